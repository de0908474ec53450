"""Detached streams: a long response leaves the framework's call stack once it starts.

An open event stream can last hours. Served as a ``StreamingResponse``, it holds every
frame of FastAPI's request machinery (middleware, exit stacks, a task group watching
for the disconnect) for as long as it lives: about 20 KB per idle connection, twice
what uvicorn itself needs. Here the route does all its checks inside FastAPI as
usual — authentication, validation, problems — and sends the response head through
the middleware (request id, CORS headers); then the body is handed to
:class:`DetachedStreams`, the outermost middleware, which streams it once the inner
stack has returned. One small task per stream watches for the client leaving.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

_HANDOFF = "chatorch.detached"  # scope key: a list the route puts its body into


class Last(bytes):
    """A body chunk after which the response ends: sent with the end of the body, in
    one write, instead of an empty chunk of its own."""


class DetachedStream(Response):
    """A streamed response whose body the outer :class:`DetachedStreams` sends."""

    def __init__(
        self, body: AsyncIterator[bytes], *, media_type: str, headers: Mapping[str, str]
    ) -> None:
        # As StreamingResponse does: no body, so no Content-Length header.
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handoff = scope.get(_HANDOFF)
        if handoff is None:
            raise RuntimeError("a DetachedStream needs the DetachedStreams middleware outside")
        start = {"type": "http.response.start", "status": self.status_code}
        await send(start | {"headers": self.raw_headers})
        handoff.append(self._body)


class DetachedStreams:
    """Outermost middleware: sends the bodies of :class:`DetachedStream` responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handoff: list[AsyncIterator[bytes]] = []
        # The inner stack works on a copy of the scope, so what it adds (its exit
        # stacks, route, request state) is freed when it returns, not kept for hours.
        await self.app({**scope, _HANDOFF: handoff}, receive, send)
        if handoff:
            await _pump(handoff[0], receive, send)


async def _pump(body: AsyncIterator[bytes], receive: Receive, send: Send) -> None:
    """Send ``body`` to its end (or its :class:`Last` chunk), or until the client leaves
    (which cancels the body)."""
    streaming = asyncio.current_task()
    assert streaming is not None

    def client_left(_: object) -> None:
        streaming.cancel()

    watch = asyncio.ensure_future(until_disconnect(receive))
    watch.add_done_callback(client_left)
    try:
        async for chunk in body:
            last = isinstance(chunk, Last)
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
            if last:
                return  # the body is closed below
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not watch.done() or watch.cancelled():
            raise  # cancelled from outside (shutdown), not by the client leaving
        streaming.uncancel()
    finally:
        watch.remove_done_callback(client_left)
        if not watch.done():
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if hasattr(body, "aclose"):
            await body.aclose()


async def until_disconnect(receive: Receive) -> None:
    """Returns when the client has gone away (its request body read to the end first)."""
    while (await receive())["type"] != "http.disconnect":
        pass  # the (empty) request body of a GET
