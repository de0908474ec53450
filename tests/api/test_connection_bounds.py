"""Bounds at the connection: a head too large is a 431, a head or body that dribbles in
is cut off with a 408; well-behaved clients notice nothing."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chatorch.api.protocol import bounded_protocol
from tests.api.conftest import new_chat, serve, settings_for

QUICK = bounded_protocol(max_head_bytes=4096, head_timeout=0.5, body_idle_timeout=0.5)


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(tmp_path), protocol=QUICK) as client:
        yield client


async def _exchange(client: httpx.AsyncClient, first: bytes, *later: bytes) -> bytes:
    """Send ``first`` on a raw connection, then each of ``later`` 2 s apart while it is
    open; everything the server sends until it closes (at most 5 s)."""
    url = client.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port)
    answer = asyncio.ensure_future(asyncio.wait_for(reader.read(), 5))
    try:
        writer.write(first)
        for part in later:
            await asyncio.wait([answer], timeout=2)
            if answer.done():
                break
            writer.write(part)
        return await answer
    finally:
        writer.close()


def _problem(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    return int(head.split()[1]), json.loads(body)


class TestHeads:
    async def test_a_head_over_the_limit_is_431(self, quick: httpx.AsyncClient) -> None:
        many = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"a" * 100) for n in range(60))
        raw = await _exchange(quick, b"GET /v1/chats HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many)
        status, problem = _problem(raw)
        assert status == 431
        assert "4096" in str(problem["detail"])

    async def test_one_huge_header_is_431(self, quick: httpx.AsyncClient) -> None:
        huge = b"X-Big: " + b"b" * 8000 + b"\r\n\r\n"
        raw = await _exchange(quick, b"GET /v1/chats HTTP/1.1\r\nHost: 127.0.0.1\r\n" + huge)
        assert _problem(raw)[0] == 431

    async def test_a_head_that_dribbles_in_is_cut_off(self, quick: httpx.AsyncClient) -> None:
        started = time.monotonic()
        raw = await _exchange(quick, b"GET /v1/chats HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n")
        assert time.monotonic() - started < 2  # the server closed before the second part
        status, problem = _problem(raw)
        assert status == 408
        assert "head" in str(problem["detail"])

    async def test_a_silent_connection_is_closed(self, quick: httpx.AsyncClient) -> None:
        url = quick.base_url
        reader, writer = await asyncio.open_connection(url.host, url.port)
        try:
            assert _problem(await asyncio.wait_for(reader.read(), 3))[0] == 408
        finally:
            writer.close()


class TestBodies:
    async def test_a_body_that_stops_arriving_is_cut_off_and_nothing_is_stored(
        self, quick: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat_id = await new_chat(quick)
        head = (
            f"POST /v1/chats/{chat_id}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        ).encode()
        started = time.monotonic()
        raw = await _exchange(quick, head + b'{"content": "hel', b"lo")
        assert time.monotonic() - started < 2
        assert b" 200 " not in raw.split(b"\r\n", 1)[0]
        assert (await quick.get(f"/v1/chats/{chat_id}/messages")).json() == []
        said = capsys.readouterr()
        assert "request.abandoned" in said.out + said.err
        assert "request.crashed" not in said.out + said.err  # a client leaving is no crash

    async def test_a_body_over_the_limit_is_answered_then_the_connection_closed(
        self, client: httpx.AsyncClient
    ) -> None:
        url = client.base_url
        reader, writer = await asyncio.open_connection(url.host, url.port)
        heard = bytearray()

        async def listen() -> None:
            with contextlib.suppress(ConnectionError):
                while part := await reader.read(65536):
                    heard.extend(part)

        listening = asyncio.ensure_future(listen())
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"  # 64 KiB, 20 a second: endless
        started = time.monotonic()
        try:
            writer.write(
                b"POST /v1/chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            with contextlib.suppress(ConnectionError):
                while time.monotonic() - started < 10:
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.05)
            cut_after = time.monotonic() - started
            await asyncio.wait_for(listening, 5)
        finally:
            writer.close()
        assert cut_after < 8  # the server stopped taking the body, some 2 s after its 413
        status, problem = _problem(bytes(heard))
        assert status == 413
        assert problem["code"] == "body_too_large"

    async def test_a_client_that_sends_its_whole_body_first_still_reads_the_413(
        self, client: httpx.AsyncClient
    ) -> None:
        size = 32 << 20  # declared, over the 1 MiB limit, and more than socket buffers hold
        url = client.base_url
        reader, writer = await asyncio.open_connection(url.host, url.port)
        try:
            writer.write(
                b"POST /v1/chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size
            )
            with contextlib.suppress(ConnectionError):
                for _ in range(size >> 16):
                    writer.write(b" " * 65536)
                    await asyncio.wait_for(writer.drain(), 5)
            answer = await asyncio.wait_for(reader.read(), 5)
        finally:
            writer.close()
        status, problem = _problem(answer)
        assert status == 413
        assert problem["code"] == "body_too_large"


class TestWellBehaved:
    async def test_keep_alive_requests_and_answers_pass(self, quick: httpx.AsyncClient) -> None:
        chat_id = await new_chat(quick)
        for n in range(3):
            sent = await quick.post(f"/v1/chats/{chat_id}/messages", json={"content": f"m{n}"})
            assert sent.status_code == 202
        assert len((await quick.get(f"/v1/chats/{chat_id}/messages")).json()) >= 3

    async def test_the_default_bounds_let_a_usual_request_through(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = {f"X-Trace-{n}": "t" * 200 for n in range(20)}  # about 4.5 KB
        assert (await client.get("/v1/chats", headers=headers)).status_code == 200
