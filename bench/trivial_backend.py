"""A minimal FastAPI backend (one typed route, no database, no middleware): the kind of
1-worker uvicorn app the gateway target was set against (~13k req/s here). Run by
bench/gateway.py to show the gateway's own cost next to a backend faster than ours."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class WhoAmI(BaseModel):
    key_id: str
    role: str
    stakeholder_id: str | None


@app.get("/whoami", response_model=WhoAmI)
async def whoami() -> WhoAmI:
    return WhoAmI(key_id="k", role="staff", stakeholder_id=None)
