"""Presentations kept for repeated reads (``pentad.present``): a new version, or anything
else the presentation depends on, is presented afresh; a write never takes a kept one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pentad import present
from pentad.db import write_intent
from pentad.pagination import Page
from tests.test_segmentation import create_segment


class Out(BaseModel):
    id: str
    name: str


@dataclass
class Record:
    id: str
    version: int
    name: str


@pytest.fixture
def reads() -> Any:
    present.forget_all()
    token = write_intent.set(False)
    yield
    write_intent.reset(token)
    present.forget_all()


def _counting(record: Record, built: list[str], depends_on: Any = None) -> Out:
    def build() -> Out:
        built.append(record.name)
        return Out(id=record.id, name=record.name)

    return present.presented(record, build, model=Out, depends_on=depends_on)


def test_a_read_of_the_same_version_takes_the_kept_presentation(reads: None) -> None:
    built: list[str] = []
    first = _counting(Record("r1", 1, "a"), built)
    again = _counting(Record("r1", 1, "a"), built)
    assert again is first and built == ["a"]


def test_a_new_version_or_dependency_is_presented_afresh(reads: None) -> None:
    built: list[str] = []
    _counting(Record("r1", 1, "a"), built)
    assert _counting(Record("r1", 2, "b"), built).name == "b"
    assert _counting(Record("r1", 2, "b"), built, depends_on=("fx", 7)).name == "b"
    assert _counting(Record("r2", 1, "c"), built).name == "c"
    assert built == ["a", "b", "b", "c"]


def test_a_write_never_takes_or_keeps_a_presentation(reads: None) -> None:
    built: list[str] = []
    token = write_intent.set(True)
    try:
        _counting(Record("r1", 1, "a"), built)
        _counting(Record("r1", 1, "a"), built)
    finally:
        write_intent.reset(token)
    assert built == ["a", "a"]
    _counting(Record("r1", 1, "a"), built)  # a read: nothing was kept by the writes
    assert built == ["a", "a", "a"]


def test_at_most_max_kept_are_kept_oldest_first(reads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(present, "MAX_KEPT", 3)
    built: list[str] = []
    for i in range(5):
        _counting(Record(f"r{i}", 1, f"n{i}"), built)
    assert len(present._kept) == 3
    _counting(Record("r4", 1, "n4"), built)  # newest: kept
    _counting(Record("r0", 1, "n0"), built)  # oldest: gone, built again
    assert built == ["n0", "n1", "n2", "n3", "n4", "n0"]


async def test_a_changed_segment_reads_changed_in_the_list_and_by_id(seg: httpx.AsyncClient) -> None:
    segment = await create_segment(seg)
    path = f"/segments/{segment['id']}"
    for _ in range(2):  # the second read takes what the first kept
        r = await seg.get(path)
        assert r.json()["name"] == segment["name"] and r.headers["etag"] == '"1"'
    listed = {s["id"]: s for s in (await seg.get("/segments", params={"limit": 500})).json()["items"]}
    assert listed[segment["id"]]["name"] == segment["name"]
    r = await seg.patch(path, json={"name": "Renamed", "languages": ["de"]}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    r = await seg.get(path)
    assert r.headers["etag"] == '"2"' and r.json()["name"] == "Renamed" and r.json()["languages"] == ["de"]
    assert r.json()["updated_at"] != segment["updated_at"]
    listed = {s["id"]: s for s in (await seg.get("/segments", params={"limit": 500})).json()["items"]}
    assert listed[segment["id"]] == r.json()


# -- page_answer: a list's JSON from the kept items' JSON ------------------------------------------

class Priced(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    amount: Decimal
    at: datetime
    kind: str = Field(alias="type")
    note: str | None = None
    parts: list[dict[str, Any]] = []


def _priced(record: Record) -> Priced:
    return present.presented(record, lambda: Priced(
        id=record.id, amount=Decimal("1234.50") * record.version, at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        type="pkg", note=None if record.version % 2 else "é \"quoted\" \u2028",
        parts=[{"x": [1, 2.5, None]}]), model=Priced)


def _fastapi_page(items: list[Priced], cursor: str | None) -> bytes:
    """What FastAPI writes for ``response_model=Page[Priced]`` (fastapi.routing.serialize_response)."""
    return TypeAdapter(Page[Priced]).dump_json(Page[Priced](items=items, next_cursor=cursor), by_alias=True)


@pytest.mark.parametrize("cursor", [None, "cjM"])
def test_a_page_answer_is_the_bytes_fastapi_writes_for_the_page(reads: None, cursor: str | None) -> None:
    items = [_priced(Record(f"r{i}", i + 1, "")) for i in range(3)]
    first = present.page_answer(Priced, items, cursor).body
    assert first == _fastapi_page(items, cursor)
    assert all(present._json[id(i)] is not None for i in items)  # kept: the next page joins them
    again = present.page_answer(Priced, [_priced(Record(f"r{i}", i + 1, "")) for i in range(3)], cursor).body
    assert again == first
    assert present.page_answer(Priced, [], cursor).body == _fastapi_page([], cursor)


def test_a_page_answer_of_items_not_kept_keeps_nothing(reads: None) -> None:
    token = write_intent.set(True)  # a write presents afresh and keeps nothing
    try:
        items = [_priced(Record("w1", 1, ""))]
    finally:
        write_intent.reset(token)
    assert present.page_answer(Priced, items, None).body == _fastapi_page(items, None)
    assert present._json == {}


def test_an_item_leaving_the_kept_takes_its_json_with_it(reads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(present, "MAX_KEPT", 2)
    items = [_priced(Record(f"r{i}", 1, "")) for i in range(2)]
    present.page_answer(Priced, items, None)
    _priced(Record("r9", 1, ""))  # r0 leaves
    assert id(items[0]) not in present._json and present._json[id(items[1])] is not None
    assert len(present._json) == len(present._kept) == 2


class PricedMore(Priced):
    extra: str = "not in the page's model"


def test_a_subclass_item_is_written_as_the_pages_model_even_when_its_json_was_kept(reads: None) -> None:
    kept = present.presented(Record("s1", 1, ""), lambda: PricedMore(
        id="s1", amount=Decimal(1), at=datetime(2026, 11, 29, tzinfo=UTC), type="pkg"), model=PricedMore)
    own = present.page_answer(PricedMore, [kept], None).body  # keeps its JSON as a PricedMore
    assert b"extra" in own and own == TypeAdapter(Page[PricedMore]).dump_json(
        Page[PricedMore](items=[kept]), by_alias=True)
    as_priced = present.page_answer(Priced, [kept], None).body
    assert b"extra" not in as_priced and as_priced == _fastapi_page([kept], None)
