"""The demo destination: each component's ``demo.py`` adds its data.

Loaded through the gateway with the bootstrap admin key, every create carrying an
``Idempotency-Key`` derived from the item, so loading twice creates nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import structlog

from pentad.components import SERVICES

log = structlog.get_logger("pentad.demo")


async def load(gateway: str, data_dir: Path) -> None:
    key_file = data_dir / "admin.key"
    if not key_file.exists():
        log.warning("demo.skipped", reason="no admin key file (PENTAD_BOOTSTRAP_ADMIN_KEY in use?)")
        return
    headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as client:
        for component in SERVICES:
            if component.has("demo"):
                await component.module("demo").load(client)
                log.info("demo.loaded", pillar=component.name)
