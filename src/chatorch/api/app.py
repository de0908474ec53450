"""create_app: the FastAPI application, its lifespan, middleware and error handling."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatorch import __version__
from chatorch.api import admin, bots, chats, events, health, messages, problems, web, webhooks
from chatorch.api import auth_config as auth_routes
from chatorch.api import docs as api_docs
from chatorch.api import export as export_routes
from chatorch.api import files as file_routes
from chatorch.api import openai as openai_routes
from chatorch.api import prompts as prompt_routes
from chatorch.api import responses as response_routes
from chatorch.api import search as search_routes
from chatorch.api import ws as ws_routes
from chatorch.api.deps import AuthenticateFirst
from chatorch.api.detach import DetachedStreams
from chatorch.api.direct import add_direct
from chatorch.api.guard import HostGuard
from chatorch.api.tracing import TraceRequests
from chatorch.container import Container, Role
from chatorch.domain.errors import RegistryUnavailable
from chatorch.domain.ids import new_id
from chatorch.settings import Settings
from chatorch.wiring import assemble

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings,
    *,
    role: Role = "serve",
    container: Container | None = None,
    metrics_only: bool = False,
) -> FastAPI:
    """The app; it assembles its own container unless the caller already holds one.

    ``metrics_only``: just ``/metrics``, for ``CHATORCH_METRICS_PORT``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            ready = container
            if ready is None:
                ready = await stack.enter_async_context(assemble(settings, role=role))
            app.state.container = ready
            heartbeat = asyncio.create_task(_heartbeat(ready))
            log.info("chatorch.started", role=role, pod_id=ready.pod_id, version=__version__)
            try:
                yield
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    app = FastAPI(
        title="chatorch",
        version=__version__,
        summary="Conversational-AI orchestration: Think → Act → Respond, streamed.",
        lifespan=lifespan,
        # chatorch exports Prometheus metrics; FastAPI's OpenTelemetry hooks, unused,
        # would still look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # api/docs.py serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    api_docs.install(app)
    app.state.streams = events.StreamHub()
    problems.install(app)
    problems.document(app)
    openai_routes.document(app)  # its two routes answer errors as OpenAI does
    # Platforms sign their webhooks; they carry no API key.
    app.add_middleware(AuthenticateFirst, render=openai_routes.render_error, public=webhooks.PREFIX)
    app.add_middleware(
        _BodyLimit,
        limit=settings.max_body_bytes,
        wider={file_routes.PATH: file_routes.body_limit(settings)},  # uploads
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=[
                "Location",
                "Retry-After",
                "X-Request-ID",
                "Idempotent-Replayed",
                "X-Chatorch-Chat-Id",  # the chat of an OpenAI-compatible completion
            ],
        )
    app.add_middleware(
        HostGuard,
        allowed_hosts=settings.allowed_hosts,
        local_only=not settings.auth_required,
        trusted_origins=settings.cors_origins,
    )
    app.add_middleware(_RequestContext)  # outside the guard: its problems carry the id
    app.add_middleware(TraceRequests)  # inside DetachedStreams: sees the route, spans streams
    app.add_middleware(DetachedStreams)  # last added: outermost
    if metrics_only:
        app.include_router(health.metrics_router)
        return app
    app.include_router(health.router)
    if settings.metrics_port is None:  # else /metrics lives on its own port only
        app.include_router(health.metrics_router)
    if role != "worker":  # a worker's port is for probes and metrics only
        add_direct(app, chats.direct_router, messages.direct_router, events.direct_router)
        routers = (chats, messages, bots, webhooks, admin, web, prompt_routes)
        for router in (module.router for module in routers):
            app.include_router(router)
        app.include_router(search_routes.router)
        app.include_router(export_routes.router)
        app.include_router(response_routes.router)  # cancel
        app.include_router(ws_routes.router)  # the WebSocket
        app.include_router(file_routes.router)
        app.include_router(openai_routes.router)
        app.include_router(auth_routes.router)  # public: how the page signs in
        app.mount("/static", web.static_files(), name="static")
    return app


async def _heartbeat(container: Container) -> None:
    """Keep this pod's stream connections alive in the registry while it lives."""
    interval = container.settings.heartbeat_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await container.registry.heartbeat(container.pod_id, ttl=3 * interval)
        except RegistryUnavailable as error:
            log.warning("registry.degraded", detail=error.detail)


class _BodyLimit:
    """Refuse a request body over ``limit`` bytes without holding it in memory.

    A declared length over the limit is refused before the app runs. A body sent
    without one (chunked) is counted as the app reads it, and refused once it passes
    the limit: the app sees an ``HTTPException(413)``, rendered like every problem.
    """

    def __init__(self, app: ASGIApp, *, limit: int, wider: Mapping[str, int] | None = None) -> None:
        """``wider``: a larger limit for the requests to a path (file uploads)."""
        self.app = app
        self.limit = limit
        self.wider = dict(wider or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.wider.get(scope["path"], self.limit)
        declared = Headers(scope=scope).get("content-length")
        if declared is None:
            receive = self._counted(receive, limit)
        elif declared.isdigit() and int(declared) > limit:
            detail = f"the body has {declared} bytes; the limit is {limit}"
            response = problems.body_too_large(Request(scope), detail)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _counted(self, receive: Receive, limit: int) -> Receive:
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise HTTPException(  # and close: the rest of the body is not wanted
                        413,
                        f"the body is over the limit of {limit} bytes",
                        headers={"Connection": "close"},
                    )
            return message

        return counted


class _RequestContext:
    """Give every request an id, carried in its logs and echoed in ``X-Request-ID``.

    Plain ASGI rather than ``BaseHTTPMiddleware``, which would copy every streamed chunk.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")[:64]
        request_id = given or str(new_id())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        header = (b"x-request-id", request_id.encode("latin-1", "replace"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
