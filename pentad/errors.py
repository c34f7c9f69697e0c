"""One error family rendered as RFC 9457 problem+json, everywhere.

Domain errors subclass ``PentadError`` (or one of the generic ones below) and carry their
status; ``install_error_handlers`` renders them, request validation failures and HTTP
errors as ``application/problem+json``. Unknown exceptions stay 500s without a trace.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
NUL_DETAIL = "Text with a NUL character (\\u0000) cannot be stored."
PROBLEM_BASE = "https://pentad.example/problems/"

log = structlog.get_logger("pentad.errors")


class FieldError(BaseModel):
    field: str
    message: str
    value: Any | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, as every Pentad error body."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class PentadError(Exception):
    """Base of every error the platform raises on purpose."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class NotFound(PentadError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(PentadError):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthenticated(PentadError):
    status, slug, title = 401, "unauthenticated", "Unauthenticated"


class Forbidden(PentadError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PreconditionFailed(PentadError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(PentadError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class Invalid(PentadError):
    """Input that is well-formed but not acceptable (unknown code, bad range...)."""

    status, slug, title = 422, "validation-error", "Validation error"


def unknown_codes(codes: list[str], known: Collection[str], *, field: str, message: str) -> None:
    """422 naming each of ``codes`` (by its index in ``field``) that is not in ``known``."""
    unknown = [FieldError(field=f"{field}.{i}", message=message, value=code)
               for i, code in enumerate(codes) if code not in known]
    if unknown:
        raise Invalid(f"Some {field} are not known.", errors=unknown)


def problem_body(status: int, slug: str, title: str, detail: str | None = None, *,
                 request_id: str | None = None, errors: list[FieldError] | None = None,
                 instance: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = [e.model_dump(exclude_none=True) for e in errors]
    return orjson.dumps(body, default=str)


def problem_response(status: int, slug: str, title: str, detail: str | None = None, *,
                     request: Request | None = None, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    request_id = request.scope.get("state", {}).get("request_id") if request else None
    body = problem_body(status, slug, title, detail, request_id=request_id, errors=errors,
                        instance=request.url.path if request else None)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if where == "body" and rest else ".".join([where, *rest])
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        value = err.get("input")
        if isinstance(value, (dict, list)) and len(orjson.dumps(value, default=str)) > 200:
            value = None  # don't echo whole payloads back
        out.append(FieldError(field=_loc_to_field(err.get("loc", ())), message=err.get("msg", ""),
                              value=value if isinstance(value, (str, int, float, bool)) else None))
    return out


async def _on_pentad_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PentadError)
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, request=request,
                            errors=exc.errors, headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, Invalid.slug, Invalid.title, "The request has invalid fields.",
                            request=request, errors=validation_errors(exc))


_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
               415: "unsupported-media-type", 401: "unauthenticated", 403: "forbidden"}


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    from http import HTTPStatus

    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(exc.status_code, _HTTP_SLUGS.get(exc.status_code, "http-error"), title,
                            detail, request=request, headers=dict(exc.headers or {}))


_PG_NUL_IN_TEXT = "22021"  # character_not_in_repertoire: PostgreSQL text cannot hold U+0000


async def _on_database_error(request: Request, exc: Exception) -> Response:
    """Only the one input error a database can see and we cannot (a NUL in text); the rest is a 500."""
    if getattr(getattr(exc, "orig", None), "pgcode", None) == _PG_NUL_IN_TEXT:
        return problem_response(422, Invalid.slug, Invalid.title, NUL_DETAIL, request=request)
    return await _on_unexpected(request, exc)


async def _on_concurrent_update(request: Request, exc: Exception) -> Response:
    return problem_response(409, Conflict.slug, Conflict.title,
                            "The record changed while this request was changing it; read it again and retry.",
                            request=request)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request.failed", path=request.url.path)
    return problem_response(500, "internal-error", "Internal server error",
                            "Something went wrong on our side; the request id helps us find it.",
                            request=request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PentadError, _on_pentad_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(StaleDataError, _on_concurrent_update)
    app.add_exception_handler(Exception, _on_unexpected)


# Declared on every router so the OpenAPI document shows the error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for code, text in {
        401: "Missing or invalid credentials", 403: "Not allowed for this caller",
        404: "Not found", 409: "Conflict", 412: "Stale If-Match",
        422: "Invalid input", 429: "Rate limited",
    }.items()
}
