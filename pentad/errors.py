"""One error family rendered as RFC 9457 problem+json, everywhere.

Domain errors subclass ``PentadError`` (or one of the generic ones below) and carry their
status; ``install_error_handlers`` renders them, request validation failures and HTTP
errors as ``application/problem+json``. Unknown exceptions stay 500s without a trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
NUL_DETAIL = "Text with a NUL character (\\u0000) cannot be stored."
PROBLEM_BASE = "https://pentad.example/problems/"

# Sent with every "try again later" answer (a 503 here, the gateway's 502/503/504), so a
# client without its own back-off does not spend its rate limit retrying at once.
RETRY_LATER_SECONDS = 5

log = structlog.get_logger("pentad.errors")

# orjson, which renders every problem, refuses lone surrogates (JSON can escape them, as
# "\ud800") and integers outside [-2**63, 2**64); so the echo of a bad value is made safe.
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_RANGE = range(-(2**63), 2**64)
MAX_ECHO = 200  # characters of an echoed value or field name; a larger value is left out
_ECHO_NODES = 50  # items in an echoed list or object, nested ones included


class _TooLarge(Exception):
    pass


def safe_text(text: str, limit: int | None = None) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, cut to ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _SURROGATE.sub("\ufffd", text)


def echo(value: Any) -> Any:
    """``value`` as a problem can show it back: big integers as strings, lone surrogates
    replaced; None (left out) when it is too deep or too large to be worth echoing."""
    budget = [_ECHO_NODES]
    try:
        safe = _echo(value, budget)
    except _TooLarge:
        return None
    return safe if not isinstance(safe, (dict, list)) or len(orjson.dumps(safe)) <= MAX_ECHO else None


def _echo(value: Any, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge  # bounds the walk too: nesting is at most _ECHO_NODES deep
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if value in _INT_RANGE else str(value)
    if isinstance(value, dict):
        return {safe_text(str(k), MAX_ECHO): _echo(v, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_echo(v, budget) for v in value]
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_ECHO:
        raise _TooLarge
    return safe_text(text)


class FieldError(BaseModel):
    """One bad input; ``value`` echoes it back when it can be shown (see ``echo``)."""

    field: str
    message: str
    value: Any | None = None
    suggestion: str | None = Field(default=None, description="A valid value close to the one given, when there is one.")

    @field_validator("field", "message", mode="before")
    @classmethod
    def _printable(cls, text: Any) -> str:
        return safe_text(str(text), MAX_ECHO * 5)

    @field_validator("value", mode="before")
    @classmethod
    def _echoable(cls, value: Any) -> Any:
        return echo(value)


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


_SUGGESTIONS = 20  # per request: past that many unknown codes, the rest are only named


def unknown_codes(codes: list[str], known: Collection[str], *, field: str, message: str,
                  indexed: bool = True) -> None:
    """422 naming each of ``codes`` (by its index in ``field``, unless ``indexed`` is False: a
    single query filter) that is not in ``known``, with the closest known code as a suggestion."""
    from pentad.codes import suggest_code  # codes builds on this module

    unknown: list[FieldError] = []
    for i, code in enumerate(codes):
        if code not in known:
            # Suggestions for the first few only: each is a fuzzy match over the whole vocabulary.
            suggestion = suggest_code(code, known) if len(unknown) < _SUGGESTIONS else None
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            unknown.append(FieldError(field=f"{field}.{i}" if indexed else field, message=message + hint,
                                      value=code, suggestion=suggestion))
    if unknown:
        raise Invalid(f"Some {field} are not known." if indexed else f"Unknown {field.rsplit('.', 1)[-1]}.",
                      errors=unknown)


def problem_body(status: int, slug: str, title: str, detail: str | None = None, *,
                 request_id: str | None = None, errors: list[FieldError] | None = None,
                 instance: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = safe_text(detail)  # details may quote input
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = [e.model_dump(exclude_none=True) for e in errors]
    return orjson.dumps(body, default=str)


# The gateway says under which prefix the caller reached this service (`/integration`), so a
# problem's `instance` is the path the caller used. Only a plain prefix is taken: at worst a
# forged one would change this one string.
FORWARDED_PREFIX = "x-forwarded-prefix"
_PREFIX = re.compile(r"/[a-z][a-z0-9-]{0,39}")


def public_path(request: Request) -> str:
    """The path as the caller used it: the service's own one under the gateway's prefix."""
    return under_prefix(request.url.path, request.headers.get(FORWARDED_PREFIX))


def under_prefix(path: str, prefix: str | None) -> str:
    """``path`` under the gateway's ``X-Forwarded-Prefix`` when that is a plain prefix."""
    return prefix + path if prefix and _PREFIX.fullmatch(prefix) else path


def problem_response(status: int, slug: str, title: str, detail: str | None = None, *,
                     request: Request | None = None, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    request_id = request.scope.get("state", {}).get("request_id") if request else None
    body = problem_body(status, slug, title, detail, request_id=request_id, errors=errors,
                        instance=public_path(request) if request else None)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    # Keys in ``loc`` come from the caller's JSON: FieldError makes them printable.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if where == "body" and rest else ".".join([where, *rest])
    return ".".join(parts)


def _reshaped(err: Any) -> str | None:
    """For a code of the wrong shape (``dental implantology`` where codes are ``[a-z0-9_]``),
    the same words in the right shape, if that fits the pattern."""
    value, pattern = err.get("input"), err.get("ctx", {}).get("pattern")
    if err.get("type") != "string_pattern_mismatch" or not isinstance(value, str) or len(value) > MAX_ECHO:
        return None
    folded = "_".join(value.strip().lower().replace("-", " ").split())
    try:
        return folded if folded != value and re.fullmatch(pattern, folded) else None
    except (re.error, TypeError):
        return None


_CHOICE = re.compile(r"'([^']*)'")


def _closest_choice(err: Any) -> str | None:
    """For a value outside an enum (``actve``), the allowed one it is closest to (``active``),
    as for an unknown code."""
    from pentad.codes import suggest_code  # codes builds on this module

    value, expected = err.get("input"), err.get("ctx", {}).get("expected")
    if err.get("type") not in ("enum", "literal_error") or not isinstance(value, str) or not isinstance(expected, str):
        return None
    return suggest_code(value, _CHOICE.findall(expected))


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":  # FastAPI's loc is ("body", <offset>)
            why = err.get("ctx", {}).get("error")
            out.append(FieldError(field="body", message=f"The body is not valid JSON: {why} "
                                                        f"(at character {err['loc'][-1]})."))
            continue
        value = err.get("input")
        suggestion = err.get("ctx", {}).get("suggestion")
        message = err.get("msg", "")
        if suggestion is None and (suggestion := _reshaped(err) or _closest_choice(err)):
            message += f"; did you mean {suggestion!r}?"
        # Scalars only: objects and lists (often the whole body) are not echoed back.
        out.append(FieldError(field=_loc_to_field(err.get("loc", ())), message=message,
                              value=value if isinstance(value, (str, int, float, bool)) else None,
                              suggestion=suggestion if isinstance(suggestion, str) else None))
    return out


def _unparsable_body(exc: BaseException | None) -> str:
    """Why FastAPI could not read a JSON body (its error is a bare 400 caused by ``exc``)."""
    if isinstance(exc, UnicodeDecodeError):
        return "The body is not valid UTF-8."
    if isinstance(exc, RecursionError):
        return "The body is nested too deeply to be parsed."
    return "The body could not be parsed."


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
    if exc.status_code == 400:
        # The framework's only 400 is a body it could not parse: the same 422 as invalid JSON.
        return problem_response(422, Invalid.slug, Invalid.title, "The request body cannot be read.",
                                request=request, errors=[FieldError(field="body", message=_unparsable_body(
                                    exc.__cause__))])
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(exc.status_code, _HTTP_SLUGS.get(exc.status_code, "http-error"), title,
                            detail, request=request, headers=dict(exc.headers or {}))


_PG_NUL_IN_TEXT = "22021"  # character_not_in_repertoire: PostgreSQL text cannot hold U+0000


# serialization_failure, deadlock_detected: the transaction lost a race and was rolled back;
# the same request may well succeed now.
PG_RETRYABLE = frozenset({"40001", "40P01"})
RETRY_CONTENDED_SECONDS = 1


async def _on_database_error(request: Request, exc: Exception) -> Response:
    """The one input error a database can see and we cannot (a NUL in text) is a 422; a lost
    race (deadlock, serialization failure) a 503 to retry, which the unit of work first
    retries itself (``retryable`` in the request's state); the rest is a 500."""
    code = getattr(getattr(exc, "orig", None), "pgcode", None)
    if code == _PG_NUL_IN_TEXT:
        return problem_response(422, Invalid.slug, Invalid.title, NUL_DETAIL, request=request)
    if code in PG_RETRYABLE:
        request.scope["state"]["retryable"] = True
        log.warning("request.contended", path=request.url.path, sqlstate=code)
        return problem_response(503, "contended", "Contended",
                                "Concurrent requests changed the same records; send this one again.",
                                request=request, headers={"Retry-After": str(RETRY_CONTENDED_SECONDS)})
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
    """Problem+json for every error of ``app``, and its OpenAPI document saying so."""
    app.openapi = _problems_as_problem_json(app, app.openapi)  # type: ignore[method-assign]
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
        404: "Not found", 409: "Conflict", 412: "Stale If-Match", 413: "Body too large",
        422: "Invalid input (including a body that is not JSON or not UTF-8)", 429: "Rate limited",
    }.items()
}


def _problems_as_problem_json(app: FastAPI, build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI files a response ``model`` under application/json; problems are problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for item in build().get("paths", {}).values():
                for operation in item.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
        return app.openapi_schema or build()

    return openapi
