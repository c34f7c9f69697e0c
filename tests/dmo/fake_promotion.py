"""A fake Promotion for the coordinator's launch tests, until the Promotion branch lands.

It serves only what ``PromotionClient`` uses for a launch: ``GET /campaigns/{id}`` and ``POST
/campaigns/{id}/activation {action_id}`` (activating again for the same action changes
nothing, as the client's contract says), behind the kit's identity check like any service.
Its state is a JSON file read and written on every request, so a test can put campaigns in
it and the fake can be run as its own process (``python -m tests.dmo.fake_promotion PORT
FILE``), SIGKILLed and started again without losing what it did. It records every
activation it applied and every ``Idempotency-Key`` it was sent.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request

from pentad.http import ASGIApp, RequestContext, VerifyIdentity
from tests.support import SECRET


class FakePromotion:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            self.save({"campaigns": {}, "activations": [], "keys": [], "failing": False})

    def load(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)  # a kill never leaves half a file

    def add(self, campaign_id: str, segment_ids: list[str], status: str = "draft") -> None:
        state = self.load()
        state["campaigns"][campaign_id] = {
            "id": campaign_id, "name": f"Campaign {campaign_id}", "segment_ids": segment_ids,
            "source_markets": ["DE"], "channels": ["search"], "status": status, "status_reason": None,
            "tracking_code": f"trk-{campaign_id}", "budget": {"amount": "5000.00", "currency": "EUR"},
            "spent": {"amount": "0.00", "currency": "EUR"}}
        self.save(state)

    def set_failing(self, failing: bool) -> None:
        self.save({**self.load(), "failing": failing})

    def app(self) -> ASGIApp:
        app = FastAPI()

        @app.get("/campaigns/{campaign_id}")
        async def campaign(campaign_id: str) -> Any:
            state = self.load()
            if state["failing"]:
                return _problem(500, "broken on purpose")
            found = state["campaigns"].get(campaign_id)
            return found if found else _problem(404, f"No campaign {campaign_id}.")

        @app.post("/campaigns/{campaign_id}/activation")
        async def activation(campaign_id: str, request: Request) -> Any:
            state = self.load()
            state["keys"].append(request.headers.get("idempotency-key"))
            self.save(state)
            if state["failing"]:
                return _problem(500, "broken on purpose")
            found = state["campaigns"].get(campaign_id)
            if found is None:
                return _problem(404, f"No campaign {campaign_id}.")
            action_id = (await request.json())["action_id"]
            if found["status"] == "active" and found.get("activated_by") == action_id:
                return found  # the same action again: nothing changes
            if found["status"] not in ("draft", "paused"):
                return _problem(409, f"A {found['status']} campaign cannot be activated.")
            found |= {"status": "active", "activated_by": action_id}
            state["activations"].append({"campaign_id": campaign_id, "action_id": action_id})
            self.save(state)
            return found

        return RequestContext(VerifyIdentity(app, secret=SECRET.encode(), max_age=300))


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": "Fake", "status": status, "detail": detail},
                        status_code=status, media_type="application/problem+json")


if __name__ == "__main__":
    import uvicorn

    port, path = int(sys.argv[1]), Path(sys.argv[2])
    uvicorn.run(FakePromotion(path).app(), host="127.0.0.1", port=port, log_config=None, access_log=False)
