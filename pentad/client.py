"""Base of the typed clients services use to call each other.

Every call is signed as the current caller (or as the calling service itself when it
acts on its own) and carries the request id and trace of the request it serves.
Problem answers come back as ``UpstreamError`` carrying the problem.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from pentad.http import current_request_id, current_traceparent, new_request_id
from pentad.identity import Caller, sign

M = TypeVar("M", bound=BaseModel)


class UpstreamError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")
        self.status = status
        self.problem = problem


class ServiceClient:
    def __init__(self, http: httpx.AsyncClient, *, base_url: str, secret: bytes, caller: Caller) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._caller = caller

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> httpx.Response:
        request_id = current_request_id.get() or new_request_id()
        out = dict(sign(self._secret, method=method, path=path, caller=self._caller,
                        request_id=request_id))
        out["x-request-id"] = request_id
        if traceparent := current_traceparent.get():
            out["traceparent"] = traceparent
        out.update(headers or {})
        response = await self._http.request(method, self._base + path, json=json, params=params,
                                            headers=out)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase}
            raise UpstreamError(response.status_code, problem)
        return response

    async def get_model(self, path: str, model: type[M], **kw: Any) -> M:
        return model.model_validate_json((await self.request("GET", path, **kw)).content)
