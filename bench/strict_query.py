"""What refusing unknown query parameters costs a request (pentad/query.py).

    python bench/strict_query.py [--requests 5000] [--rounds 9]

The same FastAPI route (three query parameters, one of them aliased, plus the kit's paging
dependency) in two apps, with and without ``strict_query()``, called in-process through
ASGI (no network, no middleware, no database: only what the dependency adds shows), in
interleaved rounds, timed in CPU time of this process (the machine is shared: wall time
would count other processes). Prints the median CPU time a request of each and their
difference, with no query string and with four parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pentad.pagination import Paging
from pentad.query import strict_query


def make_app(strict: bool) -> FastAPI:
    app = FastAPI(dependencies=[Depends(strict_query())] if strict else None)

    @app.get("/items")
    async def items(paging: Paging, kind: str | None = None,
                    from_: Annotated[str | None, Query(alias="from")] = None) -> dict[str, Any]:
        return {"limit": paging.limit, "kind": kind, "from": from_}

    return app


async def per_request_us(app: FastAPI, query: bytes, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/items", "raw_path": b"/items", "query_string": query, "root_path": "",
             "headers": [], "server": ("bench", 80), "client": ("bench", 1)}
    started = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)  # type: ignore[arg-type]
    elapsed = time.process_time() - started
    assert set(statuses) == {200}, set(statuses)
    return elapsed / n * 1e6


async def main(requests: int, rounds: int) -> None:
    plain, strict = make_app(False), make_app(True)
    for query in (b"", b"kind=clinic&from=2026-01-01&limit=10&cursor="):
        for app in (plain, strict):
            await per_request_us(app, query, 500)  # warm up (the route's names are read once)
        times: dict[str, list[float]] = {"without": [], "with": []}
        for i in range(rounds):
            order = [("without", plain), ("with", strict)]
            for name, app in order if i % 2 else reversed(order):
                times[name].append(await per_request_us(app, query, requests))
        without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
        print(f"query {query.decode() or '(none)'!r}: without {without:.1f} us, with {with_:.1f} us, "
              f"difference {with_ - without:+.1f} us a request (median of {rounds} rounds of {requests})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
