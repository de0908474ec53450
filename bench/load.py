"""The load generator: closed-loop, bounded load on one system; one JSON result.

``concurrency`` virtual users each ask for an answer, read it to its end, and ask
again, first for a warm-up and then for the measured window. It speaks three dialects:

* ``openai`` — ``POST /chat/completions`` with ``stream: true`` (the fake upstream);
* ``relay`` — ``POST /chat`` ``{"content": …}``, answered with SSE (the references);
* ``chatorch`` — create a chat, post the message, stream its ``events_url`` to ``done``.

Times run from the request that carries the question (for chatorch: the message POST,
after the chat exists) to the first token and to the end. An answer counts only when
it arrived whole: every one of the upstream's tokens and the dialect's end marker.

It prints ``measuring`` when the warm-up ends and the JSON result when the window
closes, so the caller can read the server's CPU and memory over exactly that window.
"""

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

TOKEN = re.compile(rb"tok\d+")
QUESTION = "hello"
END_MARKERS = {"openai": b"data: [DONE]", "relay": b"data: [DONE]", "chatorch": b"event: done"}


@dataclass(slots=True)
class Tally:
    """What the measured window saw: one entry per whole answer, and the failures."""

    ttft: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    tokens: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    def failed(self, reason: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(reason)


class Answerer:
    """Asks one system for one answer in its dialect; returns (ttft, latency, tokens)."""

    def __init__(self, session: aiohttp.ClientSession, dialect: str, url: str, tokens: int):
        self._session = session
        self._url = url.rstrip("/")
        self._end = END_MARKERS[dialect]
        self._tokens = tokens
        self.ask: Callable[[], Awaitable[tuple[float, float, int]]] = getattr(self, f"_{dialect}")

    async def _openai(self) -> tuple[float, float, int]:
        body = {
            "model": "fake",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        started = time.perf_counter()
        async with self._session.post(f"{self._url}/chat/completions", json=body) as response:
            return await self._read(response, started)

    async def _relay(self) -> tuple[float, float, int]:
        started = time.perf_counter()
        async with self._session.post(f"{self._url}/chat", json={"content": QUESTION}) as response:
            return await self._read(response, started)

    async def _chatorch(self) -> tuple[float, float, int]:
        async with self._session.post(f"{self._url}/v1/chats", json={}) as response:
            _expect(response, 201)
            chat = await response.json()
        started = time.perf_counter()
        url = f"{self._url}/v1/chats/{chat['id']}/messages"
        async with self._session.post(url, json={"content": QUESTION}) as response:
            _expect(response, 202)
            accepted = await response.json()
        async with self._session.get(self._url + accepted["events_url"]) as response:
            return await self._read(response, started)

    async def _read(
        self, response: aiohttp.ClientResponse, started: float
    ) -> tuple[float, float, int]:
        _expect(response, 200)
        first: float | None = None
        body = bytearray()
        async for chunk in response.content.iter_any():
            if first is None and TOKEN.search(chunk):
                first = time.perf_counter()
            body += chunk
        ended = time.perf_counter()
        tokens = len(TOKEN.findall(body))
        if first is None or tokens != self._tokens or self._end not in body:
            raise Incomplete(f"{tokens} of {self._tokens} tokens: {bytes(body[-200:])!r}")
        return first - started, ended - started, tokens


class Incomplete(Exception):
    """An answer that ended early, failed, or carried the wrong text."""


def _expect(response: aiohttp.ClientResponse, status: int) -> None:
    if response.status != status:
        raise Incomplete(f"HTTP {response.status} from {response.url.path}")


async def _user(answerer: Answerer, until: float, tally: Tally | None) -> None:
    while time.perf_counter() < until:
        try:
            ttft, latency, tokens = await answerer.ask()
        except (TimeoutError, Incomplete, aiohttp.ClientError) as error:
            if tally is not None:
                tally.failed(f"{type(error).__name__}: {error}")
            continue
        if tally is not None:
            tally.ttft.append(ttft)
            tally.latency.append(latency)
            tally.tokens += tokens


async def run(
    dialect: str, url: str, *, concurrency: int, seconds: float, warmup: float, tokens: int
) -> dict[str, object]:
    connector = aiohttp.TCPConnector(limit=2 * concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        answerer = Answerer(session, dialect, url, tokens)
        until = time.perf_counter() + warmup
        await asyncio.gather(*(_user(answerer, until, None) for _ in range(concurrency)))
        print("measuring", flush=True)
        tally = Tally()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_user(answerer, until, tally) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "answers": len(tally.latency),
        "seconds": elapsed,
        "tokens": tally.tokens,
        "errors": tally.errors,
        "first_errors": tally.first_errors,
        "ttft": tally.ttft,
        "latency": tally.latency,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dialect", choices=sorted(END_MARKERS))
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--tokens", type=int, default=50, help="tokens in a whole answer")
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(
        run(
            args.dialect,
            args.url,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            tokens=args.tokens,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
