"""Idle streams: open N event streams on one gateway, hold them, and count survivors.

Each stream follows a chat of its own, as N people with the web page open. The caller
steers it over stdin and stdout, so it can read the gateway's memory between steps:

1. creates N chats, prints ``chats``, waits for a line on stdin;
2. opens N ``GET /v1/chats/{id}/events`` (each counted open once its ``retry:``
   preamble arrives), prints ``open <n>``, waits for a line on stdin;
3. closes them all and prints the JSON result: opened, dropped while held, errors.
"""

import argparse
import asyncio
import json
import sys
import time

import aiohttp

CONNECTING = 200  # streams being opened at once, under the server's listen backlog


async def _create_chats(session: aiohttp.ClientSession, url: str, count: int) -> list[str]:
    ids: list[str] = []
    gate = asyncio.Semaphore(64)

    async def create() -> None:
        async with gate, session.post(f"{url}/v1/chats", json={}) as response:
            response.raise_for_status()
            ids.append((await response.json())["id"])

    await asyncio.gather(*(create() for _ in range(count)))
    return ids


class _Stream:
    """One held stream: opened, then read until it ends or is cancelled."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.error: str | None = None
        self.ended = False

    async def hold(self, session: aiohttp.ClientSession, url: str, gate: asyncio.Semaphore) -> None:
        try:
            async with gate:
                response = await session.get(url)
                if response.status != 200:
                    self.error = f"HTTP {response.status}"
                    response.release()
                    return
                await response.content.readuntil(b"\n\n")  # the retry: preamble
                self.opened.set()
            async with response:
                async for _ in response.content.iter_any():
                    pass  # heartbeats
            self.ended = True
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.opened.set()


async def _line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


async def run(url: str, count: int) -> dict[str, object]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        chats = await _create_chats(session, url, count)
        print("chats", flush=True)
        await _line()
        started = time.perf_counter()
        gate = asyncio.Semaphore(CONNECTING)
        streams = [_Stream() for _ in chats]
        tasks = [
            asyncio.create_task(stream.hold(session, f"{url}/v1/chats/{chat}/events", gate))
            for stream, chat in zip(streams, chats, strict=True)
        ]
        await asyncio.gather(*(stream.opened.wait() for stream in streams))
        opened = sum(stream.error is None and not stream.ended for stream in streams)
        print(f"open {opened}", flush=True)
        open_seconds = time.perf_counter() - started
        await _line()
        dropped = sum(stream.ended for stream in streams)
        errors = [stream.error for stream in streams if stream.error is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": count,
        "opened": opened,
        "open_seconds": open_seconds,
        "dropped": dropped,
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--streams", type=int, required=True)
    args = parser.parse_args(argv)
    import uvloop

    json.dump(uvloop.run(run(args.url.rstrip("/"), args.streams)), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
