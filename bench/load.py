"""The load generator: closed-loop, bounded load on one system; one JSON result.

``concurrency`` virtual users each ask for an answer, read it to its end, and ask
again, first for a warm-up and then for the measured window. It speaks three dialects:

* ``openai`` — ``POST /chat/completions`` with ``stream: true`` (the fake upstream);
* ``relay`` — ``POST /chat`` ``{"content": …}``, answered with SSE (the references);
* ``chatorch`` — post the message, stream its ``events_url`` to ``done``; each virtual
  user holds one conversation, its chat created before its first question.

With ``--key``, every request carries ``Authorization: Bearer <key>`` (a chatorch API
key, when the server requires one). Given several URLs (gateways of one deployment), the
virtual users are spread over them in turn.

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
    """One virtual user: asks one system for answers in its dialect, one at a time;
    each ``ask`` returns (ttft, latency, tokens)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        dialect: str,
        url: str,
        tokens: int,
        *,
        key: str | None = None,
    ):
        self._session = session
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._end = END_MARKERS[dialect]
        self._tokens = tokens
        self._chat: str | None = None  # the conversation a chatorch user holds
        self.ask: Callable[[], Awaitable[tuple[float, float, int]]] = getattr(self, f"_{dialect}")

    async def _openai(self) -> tuple[float, float, int]:
        body = {
            "model": "fake",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        started = time.perf_counter()
        url = f"{self._url}/chat/completions"
        async with self._session.post(url, json=body, headers=self._headers) as response:
            return await self._read(response, started)

    async def _relay(self) -> tuple[float, float, int]:
        started = time.perf_counter()
        body = {"content": QUESTION}
        url = f"{self._url}/chat"
        async with self._session.post(url, json=body, headers=self._headers) as response:
            return await self._read(response, started)

    async def _chatorch(self) -> tuple[float, float, int]:
        if self._chat is None:
            self._chat = await self.new_chat()
        return await self.turn(self._chat)

    async def new_chat(self) -> str:
        """A new chatorch chat's id."""
        url = f"{self._url}/v1/chats"
        async with self._session.post(url, json={}, headers=self._headers) as response:
            _expect(response, 201)
            chat = await response.json()
        return str(chat["id"])

    async def turn(self, chat: str) -> tuple[float, float, int]:
        """One question in an existing chatorch chat, timed from its POST."""
        started = time.perf_counter()
        url = f"{self._url}/v1/chats/{chat}/messages"
        body = {"content": QUESTION}
        async with self._session.post(url, json=body, headers=self._headers) as response:
            _expect(response, 202)
            accepted = await response.json()
        events = self._url + accepted["events_url"]
        async with self._session.get(events, headers=self._headers) as response:
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
    dialect: str,
    urls: list[str],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    tokens: int,
    key: str | None = None,
) -> dict[str, object]:
    connector = aiohttp.TCPConnector(limit=2 * concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        users = [
            Answerer(session, dialect, urls[i % len(urls)], tokens, key=key)
            for i in range(concurrency)
        ]
        until = time.perf_counter() + warmup
        await asyncio.gather(*(_user(answerer, until, None) for answerer in users))
        print("measuring", flush=True)
        tally = Tally()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_user(answerer, until, tally) for answerer in users))
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
    parser.add_argument("urls", nargs="+", metavar="url", help="users spread over these")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--tokens", type=int, default=50, help="tokens in a whole answer")
    parser.add_argument("--key", help="sent on every request as Authorization: Bearer <key>")
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(
        run(
            args.dialect,
            args.urls,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            tokens=args.tokens,
            key=args.key,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
