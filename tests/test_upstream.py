"""The gateway's upstream client (gateway/upstream.py) against real servers on loopback."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.upstream import BrokenAnswer, CannotConnect, NoAnswerInTime, UpstreamPool, Upstreams
from tests.support import free_port, serving

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head, await reader.readexactly(length)


class RawServer:
    """Counts connections and requests; answers as ``handler`` says."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def start(self, handler: Handler) -> tuple[asyncio.Server, int]:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def keepalive() -> AsyncIterator[tuple[RawServer, int]]:
    raw = RawServer()

    async def answer_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            raw.requests.append(head + body)
            payload = b"echo:" + body
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()

    server, port = await raw.start(answer_all)
    async with server:
        yield raw, port


async def test_requests_reuse_one_kept_connection(keepalive: tuple[RawServer, int]) -> None:
    raw, port = keepalive
    pool = UpstreamPool("127.0.0.1", port, timeout=5)
    for i in range(5):
        answer = await pool.request(b"POST", b"/things?x=1", [(b"x-test", b"yes")], f"body{i}".encode())
        assert answer.status == 200 and answer.body == f"echo:body{i}".encode()
        assert (b"content-type", b"text/plain") in answer.headers
    assert raw.connections == 1 and len(raw.requests) == 5
    assert raw.requests[0].startswith(b"POST /things?x=1 HTTP/1.1\r\n") and b"x-test: yes" in raw.requests[0]
    pool.close()


async def test_concurrent_requests_use_separate_connections(keepalive: tuple[RawServer, int]) -> None:
    raw, port = keepalive
    pool = UpstreamPool("127.0.0.1", port, timeout=5)
    answers = await asyncio.gather(*(pool.request(b"GET", b"/", [], b"") for _ in range(4)))
    assert [a.status for a in answers] == [200] * 4 and raw.connections == 4
    await asyncio.gather(*(pool.request(b"GET", b"/", [], b"") for _ in range(4)))
    assert raw.connections == 4  # all four were kept and reused
    pool.close()


async def _chunked(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while (m := await receive())["type"] != "lifespan.shutdown":
            await send({"type": m["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]})
    for part in (b"one,", b"two,", b"three"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_chunked_answers_and_head_requests() -> None:
    port = free_port()
    async with serving(_chunked, port):
        pool = UpstreamPool("127.0.0.1", port, timeout=5)
        answer = await pool.request(b"GET", b"/stream", [], b"")
        assert answer.status == 201 and answer.body == b"one,two,three"
        assert (b"transfer-encoding", b"chunked") in answer.headers
        head = await pool.request(b"HEAD", b"/stream", [], b"")
        assert head.status == 201 and head.body == b""
        again = await pool.request(b"GET", b"/stream", [], b"")
        assert again.body == b"one,two,three"
        pool.close()


async def test_a_connection_the_service_closed_while_idle_is_not_used(keepalive: tuple[RawServer, int]) -> None:
    raw = RawServer()

    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        # ...and the server drops the kept connection, as uvicorn does after its keep-alive

    server, port = await raw.start(one_then_close)
    async with server:
        pool = UpstreamPool("127.0.0.1", port, timeout=5)
        assert (await pool.request(b"POST", b"/", [], b"x")).body == b"ok"
        await asyncio.sleep(0.05)  # the close reaches us
        assert (await pool.request(b"POST", b"/", [], b"y")).body == b"ok"
        assert raw.connections == 2
        pool.close()


async def test_a_post_lost_on_a_reused_connection_is_not_retried() -> None:
    raw = RawServer()
    seen: list[bytes] = []

    async def answer_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        _, body = await read_request(reader)  # the next request arrives, then the line drops
        seen.append(body)

    server, port = await raw.start(answer_then_drop)
    async with server:
        pool = UpstreamPool("127.0.0.1", port, timeout=5)
        await pool.request(b"POST", b"/", [], b"first")
        with pytest.raises(BrokenAnswer):
            await pool.request(b"POST", b"/", [], b"second")
        await asyncio.sleep(0.05)
        assert seen == [b"second"] and raw.connections == 1  # sent once, never replayed
        pool.close()


async def test_a_get_lost_on_a_reused_connection_is_retried_once() -> None:
    raw = RawServer()

    async def drop_second_on_first_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        if raw.connections == 1:
            await read_request(reader)  # drop without answering

    server, port = await raw.start(drop_second_on_first_connection)
    async with server:
        pool = UpstreamPool("127.0.0.1", port, timeout=5)
        await pool.request(b"GET", b"/", [], b"")
        assert (await pool.request(b"GET", b"/", [], b"")).body == b"ok"
        assert raw.connections == 2
        pool.close()


async def test_timeouts_close_the_connection_so_late_answers_are_never_misread() -> None:
    raw = RawServer()

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/slow" in head:
                await asyncio.sleep(0.5)
            payload = head.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()

    server, port = await raw.start(slow_first)
    async with server:
        pool = UpstreamPool("127.0.0.1", port, timeout=0.2)
        with pytest.raises(NoAnswerInTime):
            await pool.request(b"GET", b"/slow", [], b"")
        assert (await pool.request(b"GET", b"/fast", [], b"")).body == b"/fast"
        assert raw.connections == 2
        pool.close()


async def test_nobody_listening_is_unavailable_and_garbage_is_broken() -> None:
    with pytest.raises(CannotConnect):
        await UpstreamPool("127.0.0.1", free_port(), timeout=2).request(b"GET", b"/", [], b"")

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SPDY/9 banana\r\n\r\n")
        await writer.drain()

    server, port = await RawServer().start(garbage)
    async with server:
        with pytest.raises(BrokenAnswer):
            await UpstreamPool("127.0.0.1", port, timeout=2).request(b"GET", b"/", [], b"")


async def test_an_interim_100_continue_is_not_taken_for_the_answer() -> None:
    raw = RawServer()

    async def continue_then_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, body = await read_request(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()

    server, port = await raw.start(continue_then_answer)
    async with server:
        pool = UpstreamPool("127.0.0.1", port, timeout=5)
        first = await pool.request(b"POST", b"/", [], b"mine")
        second = await pool.request(b"POST", b"/", [], b"yours")
        assert (first.status, first.body, second.status, second.body) == (200, b"mine", 200, b"yours")
        assert raw.connections == 1
        pool.close()


@pytest.fixture
async def slow_echo() -> AsyncIterator[tuple[RawServer, int]]:
    """Answers each request after 0.1 s with the port it listens on, so callers see who answered."""
    raw = RawServer()
    port_box: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            raw.requests.append(head)
            await asyncio.sleep(0.1)
            payload = str(port_box[0]).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()

    server, port = await raw.start(answer)
    port_box.append(port)
    async with server:
        yield raw, port


async def test_a_pool_opens_no_more_than_its_bound_and_the_rest_wait(slow_echo: tuple[RawServer, int]) -> None:
    raw, port = slow_echo
    pool = UpstreamPool("127.0.0.1", port, timeout=5, max_connections=2)
    answers = await asyncio.gather(*(pool.request(b"GET", b"/", [], b"") for _ in range(6)))
    assert [a.status for a in answers] == [200] * 6
    assert raw.connections == 2 and len(raw.requests) == 6
    assert pool.in_use == 0
    pool.close()


async def test_waiting_for_a_busy_pool_past_the_timeout_is_no_answer_in_time(
        slow_echo: tuple[RawServer, int]) -> None:
    raw, port = slow_echo
    pool = UpstreamPool("127.0.0.1", port, timeout=0.15, max_connections=1)
    results = await asyncio.gather(*(pool.request(b"GET", b"/", [], b"") for _ in range(3)), return_exceptions=True)
    assert sum(isinstance(r, NoAnswerInTime) for r in results) >= 1
    assert any(not isinstance(r, BaseException) for r in results)
    assert raw.connections == 1
    pool.close()


@pytest.fixture
async def echoes() -> AsyncIterator[tuple[int, int]]:
    """Two servers answering every request with their own port."""
    ports: list[int] = []
    servers = []
    for i in range(2):
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int = i) -> None:
            while True:
                await read_request(reader)
                payload = str(ports[i]).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(payload)).encode() + b"\r\n\r\n"
                             + payload)
                await writer.drain()
        server, port = await RawServer().start(answer)
        servers.append(server)
        ports.append(port)
    yield ports[0], ports[1]
    for server in servers:
        server.close()


async def test_several_urls_take_turns_and_an_unhealthy_one_is_skipped(echoes: tuple[int, int]) -> None:
    a, b = echoes
    upstreams = Upstreams([UpstreamPool("127.0.0.1", a, timeout=5), UpstreamPool("127.0.0.1", b, timeout=5)])
    seen = [(await upstreams.request(b"GET", b"/", [], b"")).body for _ in range(6)]
    assert sorted(seen) == sorted([str(a).encode(), str(b).encode()] * 3)
    assert all(x != y for x, y in itertools.pairwise(seen)), "round robin"

    upstreams.pools[0].healthy = False
    assert {(await upstreams.request(b"GET", b"/", [], b"")).body for _ in range(4)} == {str(b).encode()}
    upstreams.pools[1].healthy = False  # none healthy: still tried, in turn
    assert {(await upstreams.request(b"GET", b"/", [], b"")).body for _ in range(4)} == {str(a).encode(),
                                                                                        str(b).encode()}
    upstreams.close()


async def test_a_url_refusing_connections_is_passed_over_for_any_method(echoes: tuple[int, int]) -> None:
    a, _ = echoes
    dead = UpstreamPool("127.0.0.1", free_port(), timeout=5)
    upstreams = Upstreams([dead, UpstreamPool("127.0.0.1", a, timeout=5)])
    for _ in range(3):
        assert (await upstreams.request(b"POST", b"/", [], b"x")).body == str(a).encode()
    assert dead.healthy is False
    with pytest.raises(CannotConnect):
        await Upstreams([UpstreamPool("127.0.0.1", free_port(), timeout=5)] * 2).request(b"GET", b"/", [], b"")
    upstreams.close()


async def test_the_health_check_marks_urls_down_and_up_again(echoes: tuple[int, int]) -> None:
    import httpx

    from gateway.app import check_health

    a, b = echoes
    gone = free_port()
    upstreams = {"s": Upstreams([UpstreamPool("127.0.0.1", a, timeout=5), UpstreamPool("127.0.0.1", gone, timeout=5)]),
                 "single": Upstreams([UpstreamPool("127.0.0.1", gone, timeout=5)])}
    async with httpx.AsyncClient() as http:
        checker = asyncio.create_task(check_health(http, upstreams, interval=0.05))
        await asyncio.sleep(0.3)
        assert [p.healthy for p in upstreams["s"].pools] == [True, False]
        assert upstreams["single"].pools[0].healthy, "one URL: nothing to check, nowhere else to go"
        # The dead one comes back (here: the same pool now points at a live server).
        upstreams["s"].pools[1].port = b
        await asyncio.sleep(0.3)
        assert [p.healthy for p in upstreams["s"].pools] == [True, True]
        checker.cancel()
