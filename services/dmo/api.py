"""Routes of the DMO coordinator service (thin: the logic lives in service.py)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
