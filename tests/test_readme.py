"""The README's first-ten-minutes walk-throughs run as written (issue 10): each block marked
``<!-- walkthrough: ... -->`` is run by bash, unchanged, against a running platform, with
``var/admin.key`` where ``make run`` leaves it and ``PENTAD`` naming the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.platform import Seeded, seeded_platform

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"<!-- walkthrough: (\w+) -->\n```sh\n(.*?)\n```", re.S)

pytestmark = pytest.mark.skipif(not (shutil.which("jq") and shutil.which("curl")),
                                reason="the walk-throughs use curl and jq")


def walkthroughs() -> dict[str, str]:
    return dict(_BLOCK.findall(README.read_text()))


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with seeded_platform(databases, tmp_path_factory.mktemp("readme")) as seeded:
        yield seeded


async def _run(plat: Seeded, script: str, where: Path) -> list[str]:
    (where / "var").mkdir(exist_ok=True)
    (where / "var" / "admin.key").write_text(plat.keys["admin"] + "\n")
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=where, env={**os.environ, "PENTAD": plat.url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (out.decode(), err.decode())
    return [line for line in out.decode().splitlines() if line.strip()]


def test_the_readme_has_both_walkthroughs() -> None:
    assert set(walkthroughs()) == {"provider", "facilitator"}


async def test_the_provider_walkthrough_posts_and_reads_back_capacity(plat: Seeded, tmp_path: Path) -> None:
    whoami, posted, row = await _run(plat, walkthroughs()["provider"], tmp_path)
    assert json.loads(whoami)["role"] == "provider" and json.loads(whoami)["stakeholder_id"].startswith("stk_")
    assert json.loads(posted) == {"inserted": 1, "updated": 0, "rejected": []}
    assert {k: v for k, v in json.loads(row).items() if k != "date"} == {
        "slots_total": 8, "slots_available": 3, "stale": False}


async def test_the_facilitator_walkthrough_reads_segments_packages_the_offer_and_files_an_enquiry(
        plat: Seeded, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in await _run(plat, walkthroughs()["facilitator"], tmp_path)]
    *items, errors = lines
    assert plat.segment["id"] in [i.get("id") for i in items]
    package = next(i for i in items if i.get("name") == plat.package["name"])
    assert package["total"] == plat.package["total"] and package["total_in"]["currency"] == "GBP"
    offer = next(i for i in items if "as_of" in i)
    assert isinstance(offer["providers"], list) and offer["lag_seconds"] >= 0
    enquiry = next(i for i in items if str(i.get("id")).startswith("enq_"))
    async with plat.client("staff") as staff:
        filed = (await staff.get(f"/promotion/enquiries/{enquiry['id']}")).json()
    assert (filed["specialty"], filed["source_market"], filed["status"]) == ("orthopaedics", "GB", enquiry["status"])
    assert errors == [{"field": "query.market", "message": "unknown ISO 3166-1 alpha-2 country code; did you mean "
                                                           "'GB'?", "value": "UK", "suggestion": "GB"}]
