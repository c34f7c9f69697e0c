"""Strict query strings: an unknown query parameter is a 422 naming it (the contract's rule).

FastAPI ignores query parameters a route does not declare, so a typo (``?curency=GBP``)
silently answers something else. ``strict_query()`` is a global dependency that
``build_service_app`` gives every route of every service: the names a route takes (its own
parameters and its dependencies', aliases included) are read from FastAPI's dependency tree
once per route, then a request costs one set lookup per key it sends. Measured with
bench/strict_query.py (CPU time, bare route in-process): +8 to +9 us a request without a
query string, +11 to +15 us with four parameters, on ~95-110 us; nearly all of it is
FastAPI resolving one more dependency, a percent or so of a request that reaches a database.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from pentad.errors import FieldError, Invalid


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name a route takes, through all its dependencies."""
    names: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a query-parameter model
                names.update(f.alias or name for name, f in model.model_fields.items())
            else:
                names.add(field.alias)
        todo.extend(current.dependencies)
    return frozenset(names)


def strict_query() -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency refusing query parameters the matched route does not declare (one cache per app)."""
    known: dict[tuple[str, str], frozenset[str]] = {}  # routes are unhashable: by path and method

    async def refuse_unknown(request: Request) -> None:
        if not request.scope.get("query_string"):
            return
        route = request.scope["route"]
        key = (route.path_format, request.scope["method"])
        allowed = known.get(key)
        if allowed is None:
            allowed = known[key] = declared_query_names(route.dependant)
        if unknown := [k for k in request.query_params if k not in allowed]:
            raise _unknown(request, unknown, allowed)

    return refuse_unknown


def _unknown(request: Request, names: list[str], allowed: frozenset[str]) -> Invalid:
    takes = f"this route takes: {', '.join(sorted(allowed))}" if allowed else "this route takes none"
    return Invalid("The request has unknown query parameters.", errors=[
        FieldError(field=f"query.{name}", message=f"unknown query parameter ({takes})",
                   value=request.query_params[name][:100]) for name in names])
