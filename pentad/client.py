"""Base of the typed clients services use to call each other.

A service calls another as itself (``service:<name>``, staff rights): lookups such as FX
rates or the specialty vocabulary are system reads, whoever the end caller is. Every call
carries the request id and trace of the request it serves. Failures become problems:
unreachable or timing out is 503, any other failed answer 502.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from fastapi import Request
from pydantic import BaseModel

from pentad.errors import RETRY_LATER_SECONDS, PentadError
from pentad.http import current_request_id, current_traceparent, new_request_id
from pentad.identity import Caller, Role, sign
from pentad.pagination import Page
from pentad.settings import Settings
from pentad.state import state_of

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound="ServiceClient")


class UpstreamError(PentadError):
    status, slug, title = 502, "upstream-error", "A service behind this one failed"

    def __init__(self, detail: str, *, upstream_status: int | None = None,
                 problem: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.upstream_status = upstream_status
        self.problem = problem or {}


class UpstreamUnavailable(UpstreamError):
    status, slug, title = 503, "upstream-unavailable", "A service behind this one is unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_LATER_SECONDS)}


class ServiceClient:
    service: str = ""  # the service this client calls; subclasses set it

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, secret: bytes, caller: Caller) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._caller = caller

    @classmethod
    def for_settings(cls: type[C], http: httpx.AsyncClient, settings: Settings) -> C:
        return cls(http, base_url=settings.url_of(cls.service), secret=settings.secret.encode(),
                   caller=Caller(f"service:{settings.service}", Role.staff))

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | list[tuple[str, Any]] | None = None,
                      headers: dict[str, str] | None = None) -> httpx.Response:
        if any(step in (".", "..") for step in path.split("?", 1)[0].split("/")):
            # An id of "." or ".." would be resolved away as a path step (quote() leaves dots) and
            # another resource answered: no record has such an id, so say so without asking.
            raise UpstreamError(f"{self.service} has no record at {path!r}.", upstream_status=404)
        request_id = current_request_id.get() or new_request_id()
        request = self._http.build_request(method, self._base + path, json=json, params=params,
                                           headers={**(headers or {}), "x-request-id": request_id})
        # Sign what goes on the wire: httpx normalises the path (dot segments) and adds the query.
        request.headers.update(sign(self._secret, method=method, path=request.url.raw_path.decode("ascii"),
                                    caller=self._caller, request_id=request_id))
        if traceparent := current_traceparent.get():
            request.headers["traceparent"] = traceparent
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"{self.service} did not answer ({type(exc).__name__}).") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase}
            raise UpstreamError(f"{self.service} answered {response.status_code}: "
                                f"{problem.get('detail') or problem.get('title')}",
                                upstream_status=response.status_code, problem=problem)
        return response

    async def get_model(self, path: str, model: type[M], **kw: Any) -> M:
        return model.model_validate_json((await self.request("GET", path, **kw)).content)

    async def get_all(self, path: str, item: type[M], params: Sequence[tuple[str, Any]] = ()) -> list[M]:
        """Every item of a paged list (``{items, next_cursor}``), walking its pages 500 at a time."""
        page_model = Page[item]  # type: ignore[valid-type]
        found: list[M] = []
        query = [*params, ("limit", 500)]
        while True:
            page = await self.get_model(path, page_model, params=query)
            found += page.items
            if page.next_cursor is None:
                return found
            query = [*params, ("limit", 500), ("cursor", page.next_cursor)]


def client_of(cls: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A dependency giving a route a client of ``cls`` built from the app's state:
    ``Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]``."""

    async def build(request: Request) -> C:
        state = state_of(request)
        return cls.for_settings(state["http"], state["settings"])

    return build


async def ask(*calls: Awaitable[Any], why: str | None = "Figures are computed only from every service's answer, "
                                                         "none guessed") -> list[Any]:
    """Every call's answer, asked concurrently; if any service failed, one problem naming each that
    did (503 if one is down, else 502), ``why`` first: never a figure computed from part of the data.
    Calls may themselves be ``ask``s (``why=None``): their details join the outer one's.
    Other exceptions (a bug, a domain error) pass through unchanged."""
    answers = await asyncio.gather(*calls, return_exceptions=True)
    failed = [a for a in answers if isinstance(a, BaseException)]
    if not failed:
        return list(answers)
    upstream = [e for e in failed if isinstance(e, UpstreamError)]
    if len(upstream) < len(failed):
        raise next(e for e in failed if not isinstance(e, UpstreamError))
    kind = UpstreamUnavailable if any(isinstance(e, UpstreamUnavailable) for e in upstream) else UpstreamError
    detail = "; ".join(dict.fromkeys(str(e.detail) for e in upstream))
    raise kind(f"{why}: {detail}" if why else detail)
