"""ETag / If-Match for updates: a PATCH with a stale If-Match changes nothing (412)."""

from __future__ import annotations

from starlette.responses import Response

from pentad.errors import PreconditionFailed


def etag_of(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Honour If-Match when given; ``*`` matches any existing record."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in wanted or etag_of(version) in wanted:
        return
    raise PreconditionFailed(
        f"The record changed since you read it (current ETag {etag_of(version)}); "
        "read it again and retry.")


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_of(version)
