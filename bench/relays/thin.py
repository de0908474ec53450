"""The thin relay: what a user writes instead of adopting chatorch (Starlette + httpx).

``UPSTREAM`` is an OpenAI-compatible ``/v1`` URL; ``POST /chat {"content": …}`` streams
the answer back as SSE, one ``{"text": …}`` per upstream token, then ``[DONE]``.
"""

import json
import os
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

upstream = httpx.AsyncClient(
    base_url=os.environ["UPSTREAM"], timeout=60, limits=httpx.Limits(max_connections=512)
)


async def chat(request: Request) -> StreamingResponse:
    content = (await request.json())["content"]
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": content}]}

    async def relay() -> AsyncIterator[str]:
        async with upstream.stream("POST", "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    for choice in json.loads(line[6:])["choices"]:
                        if text := choice["delta"].get("content"):
                            yield f"data: {json.dumps({'text': text})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(relay(), media_type="text/event-stream")


app = Starlette(routes=[Route("/chat", chat, methods=["POST"])])
