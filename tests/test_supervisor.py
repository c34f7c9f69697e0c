"""`pentad up` says it is up only when its own processes answer, not whatever holds a port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from launcher.supervisor import Child, Supervisor
from tests.support import build, free_port, serving, settings_for


def supervisor(tmp: Path, instance: str, port: int) -> Supervisor:
    sup = Supervisor(host="127.0.0.1", port=port, data_dir=tmp, demo=False)
    sup.instance = instance
    return sup


async def test_a_child_is_ready_only_when_it_reports_this_run(databases: Any, tmp_path: Path) -> None:
    settings = settings_for("dmo", await databases.new("dmo"), tmp_path, instance_id="run-a")
    async with serving(build("dmo", settings)) as url, httpx.AsyncClient(timeout=5) as client:
        port = int(url.rsplit(":", 1)[1])
        assert (await client.get(url + "/health/live")).json() == {"status": "ok", "service": "dmo",
                                                                  "instance": "run-a"}
        assert await supervisor(tmp_path, "run-a", port).probe(client, Child("dmo", port, {})) == "ready"
        # Another run of `pentad up` (or anything else) on the port is not ours...
        other_run = await supervisor(tmp_path, "run-b", port).probe(client, Child("dmo", port, {}))
        assert other_run == (f"port {port} is answered by another program, not the dmo this pentad up started; "
                             "stop it or pick another --port")
        # ...nor is another component of the same run.
        wrong = await supervisor(tmp_path, "run-a", port).probe(client, Child("promotion", port, {}))
        assert wrong is not None and wrong.startswith(f"port {port} is answered by another program")


async def test_a_child_that_never_answers_is_named_after_the_wait(tmp_path: Path) -> None:
    port = free_port()
    sup = supervisor(tmp_path, "run-a", port)
    sup.children = [Child("segmentation", port, {})]
    async with httpx.AsyncClient(timeout=1) as client:
        assert await sup.probe(client, sup.children[0]) is None  # nothing listening yet: still starting
    assert await sup.wait_own_children(within=1) == (
        f"not ready within 1 s: segmentation (port {port}); their log lines above say why")
