"""The fast relay: the thin relay's logic on aiohttp, client and server, on uvloop.

The fastest Python relay we know: the ceiling chatorch chases.
``python -m bench.relays.fast --port N`` with ``UPSTREAM`` set, as for the thin relay.
"""

import argparse
import json
import os
from collections.abc import AsyncIterator

import uvloop
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

UPSTREAM = web.AppKey("upstream", ClientSession)


async def chat(request: web.Request) -> web.StreamResponse:
    content = (await request.json())["content"]
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": content}]}
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    url = os.environ["UPSTREAM"] + "/chat/completions"
    async with request.app[UPSTREAM].post(url, json=body) as upstream:
        async for line in upstream.content:
            if line.startswith(b"data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    if text := choice["delta"].get("content"):
                        await response.write(f"data: {json.dumps({'text': text})}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


async def _client(app: web.Application) -> AsyncIterator[None]:
    connector = TCPConnector(limit=512)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=60)) as session:
        app[UPSTREAM] = session
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.router.add_post("/chat", chat)
    app.cleanup_ctx.append(_client)
    web.run_app(
        app,
        host="127.0.0.1",
        port=parser.parse_args().port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
