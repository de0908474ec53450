"""TraceRequests: one server span per HTTP request, the root of a turn's trace.

A dozen lines of plain ASGI rather than opentelemetry-instrumentation-asgi (not a
dependency): it must sit inside :class:`DetachedStreams` to read the route the router
chose, and carry its span over the detached body of an event stream, so that the
stream's span lasts as long as the stream and links to the turns it carries
(``chatorch.tracing.StreamLinks``). ADR 0021 says why.

Off (no OTLP endpoint), a request passes straight through; so do the probes and
``/metrics``.
"""

from collections.abc import AsyncIterator

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatorch import tracing
from chatorch.api.detach import _HANDOFF

# Probes and scrapes: a span every few seconds per process, and never part of a turn.
UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


class TraceRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.active() or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        span = tracing.start(
            method,
            kind=SpanKind.SERVER,
            context=_clients_trace(scope),
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send_status)
        except Exception as error:
            tracing.failed(span, error)
            span.end()
            raise
        finally:
            otel_context.detach(token)
        route = getattr(scope.get("route"), "path", None)
        if route is not None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            tracing.failed(span, detail=f"HTTP {status}")
        handoff = scope.get(_HANDOFF)
        if handoff:  # an event stream: its span ends with its body
            handoff[0] = _spanning(handoff[0], span)
        else:
            span.end()


def _clients_trace(scope: Scope) -> otel_context.Context | None:
    """A client's own trace (its ``traceparent``) is the parent of the request's span;
    looked for first, as most requests carry none."""
    if not any(name == b"traceparent" for name, _ in scope["headers"]):
        return None
    return propagate.extract(Headers(scope=scope))


async def _spanning(body: AsyncIterator[bytes], span: Span) -> AsyncIterator[bytes]:
    """``body``, sent with ``span`` current (its events link to their turns), then ended."""
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        async for chunk in body:
            yield chunk
    finally:
        try:  # closed at once, as the sender closes its body, not when collected
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            otel_context.detach(token)
            span.end()
