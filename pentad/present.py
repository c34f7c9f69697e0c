"""Presentations of versioned records, kept per process for the reads that repeat them.

Turning a row into its response model re-runs every validator of the model (codes checked,
lists de-duplicated, amounts formatted): on a page of 50 segments that was about half of
the service's CPU a request (issue 13, bench/kit_profile.py). A record's presentation is a
function of its columns, and its ``version`` (``pentad.orm.Versioned``, bumped by every ORM
UPDATE: what ETag/If-Match compare) names one state of those columns. So a read keeps the
presentation under (model, id, version, whatever else it depends on) and the next read of
the same state takes it back instead of building it again.

Only safe methods fill or use it (``write_intent`` false): they read committed rows only
(AUTOCOMMIT on PostgreSQL, a snapshot on SQLite), so a version seen here can never be one a
rolled-back write made and another write makes again with other columns. A write presents
afresh. The kept models are shared between requests: treat them as read-only (copy with
``model_copy(update=...)``, as the services already do). At most ``MAX_KEPT`` are kept;
the oldest go first.

A list answers its page with ``page_answer``: each kept presentation is also kept as its
JSON, so a page repeating known states joins their bytes instead of serialising every item
again (pydantic's serialisation of a page of 30 packages was ~12% of the service's CPU a
request, issue 13). The bytes are those FastAPI writes for the route's ``response_model``
(``Page[M]``, by alias); only a kept model's bytes are kept, dropped with it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import Response
from pydantic import BaseModel

from pentad.db import write_intent

M = TypeVar("M", bound=BaseModel)

MAX_KEPT = 20_000
_kept: dict[Hashable, Any] = {}
# id(model kept above) -> its JSON. Only models alive in ``_kept`` are here, and leave with it,
# so an id is never one a later object reused.
_json: dict[int, bytes | None] = {}


def presented(record: Any, build: Callable[[], M], *, model: type[M], depends_on: Hashable = None) -> M:
    """``build()``, or what it gave for this very state of ``record`` (its ``id`` and
    ``version``) and ``depends_on`` (e.g. the FX table's version and the currency asked)."""
    if write_intent.get():
        return build()
    key = (model, record.id, record.version, depends_on)
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = build()
        _json[id(found)] = None  # its JSON, once a page asks for it
        if len(_kept) > MAX_KEPT:
            _json.pop(id(_kept.pop(next(iter(_kept)))), None)
    return found  # type: ignore[no-any-return]


def present(model: type[M], record: Any) -> M:
    """``model.model_validate(record)`` for a versioned record, kept for repeated reads."""
    return presented(record, lambda: model.model_validate(record), model=model)


def page_answer(model: type[BaseModel], items: Sequence[BaseModel], next_cursor: str | None) -> Response:
    """The JSON answer ``Page[model](items=items, next_cursor=next_cursor)`` gives as a route's
    ``response_model``, from the kept JSON of kept items (see the module's doc)."""
    serializer = model.__pydantic_serializer__
    parts = []
    for item in items:
        if not isinstance(item, model):
            item = model.model_validate(item)
        exact = type(item) is model  # kept JSON is the item's own model's; a subclass is written as ``model``
        body = _json.get(id(item)) if exact else None
        if body is None:
            body = serializer.to_json(item, by_alias=True)
            if exact and id(item) in _json:
                _json[id(item)] = body
        parts.append(body)
    return Response(b'{"items":[' + b",".join(parts) + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}",
                    media_type="application/json")


def forget_all() -> None:
    """Tests: start from nothing kept."""
    _kept.clear()
    _json.clear()
