"""Tracing: the spans of a turn, from the gateway's HTTP span to each model call.

Only the OpenTelemetry *API* is used here, so the pipeline, the services and the
adapters may call it; the SDK and its OTLP exporter are set up by
``wiring/tracing.py``, and only when an endpoint is configured. Until then every
helper returns at its first line (one shared no-op context manager, no span, no
context change): tracing that is off costs nothing measurable (docs/performance.md).

The trace context crosses the bus as W3C ``traceparent``/``tracestate`` headers of the
work item (NATS headers; beside the item on the in-process bus), so one turn is one
trace across gateway and worker (ADR 0021).
"""

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import MappingProxyType
from typing import Any
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

TRACER = "chatorch"
TURNS_REMEMBERED = 10_000  # turns whose trace a stream may link to, per process

_tracer: trace.Tracer | None = None
_NOTHING: AbstractContextManager[Span] = nullcontext(INVALID_SPAN)
_turns: "OrderedDict[UUID, trace.SpanContext]" = OrderedDict()
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


def activate(provider: trace.TracerProvider) -> None:
    """Trace from now on with ``provider`` (the wiring's SDK provider, or a test's)."""
    global _tracer
    from chatorch import __version__

    _tracer = provider.get_tracer(TRACER, __version__)


def deactivate() -> None:
    global _tracer
    _tracer = None
    _turns.clear()


def active() -> bool:
    return _tracer is not None


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> AbstractContextManager[Span]:
    """A child of the current span, current inside the ``with``; an exception that
    leaves it is recorded and sets its status to ERROR."""
    if _tracer is None:
        return _NOTHING
    return _tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def start(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    context: otel_context.Context | None = None,
) -> Span:
    """A child of the current span (or of ``context``'s) that does not become current:
    for a span that lives across the ``yield``s of a generator, or that its caller makes
    current itself."""
    if _tracer is None:
        return INVALID_SPAN
    return _tracer.start_span(name, context=context, kind=kind, attributes=attributes)


def failed(span: Span, error: BaseException | None = None, *, detail: str = "") -> None:
    """Mark ``span`` failed: ERROR status, and the exception recorded when there is one."""
    if not span.is_recording():
        return
    if error is not None:
        span.record_exception(error)
        detail = detail or f"{type(error).__name__}: {error}"
    span.set_status(Status(StatusCode.ERROR, detail))


def current() -> Span:
    return trace.get_current_span()


# --- across the bus ---------------------------------------------------------------


def carrier() -> Mapping[str, str]:
    """The current trace context as W3C headers; empty when there is none to carry (one
    shared empty mapping: a queued work item keeps it)."""
    if _tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return _NO_HEADERS
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


@contextmanager
def consuming(name: str, delivery: Any) -> Iterator[Span]:
    """The worker's span for one delivered work item (a ``ports.bus.Delivery``), a child
    of the span that queued it when the bus kept its headers (``trace_carrier``)."""
    if _tracer is None:
        yield INVALID_SPAN
        return
    headers: Mapping[str, str] | None = getattr(delivery, "trace_carrier", None)
    parent = propagate.extract(headers) if headers else otel_context.Context()
    item = delivery.item
    attributes = {
        "messaging.operation.type": "process",
        "messaging.destination.name": "work",
        "messaging.message.id": str(item.message_id),
        "chatorch.delivery_count": delivery.delivery_count,
        "chatorch.chat_id": str(item.chat_id),
        "chatorch.response_id": str(item.response_id),
    }
    with _tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as work:
        yield work


# --- streams link to the turns they carry --------------------------------------------


def event_headers(kind: str) -> dict[str, str] | None:
    """Headers for a stream event of ``kind`` published now: the turn's context on the
    few events that are not tokens (a stream links to the turn), none on tokens."""
    if _tracer is None or kind == "token":
        return None
    return dict(carrier()) or None


def note_turn(response_id: UUID, headers: Mapping[str, str] | None = None) -> None:
    """Remember the trace of ``response_id``'s turn (from ``headers``, else the current
    span), for the streams of this process that carry it (``StreamLinks``)."""
    if _tracer is None:
        return
    if headers is None:
        context = trace.get_current_span().get_span_context()
    elif "traceparent" in headers:
        context = trace.get_current_span(propagate.extract(headers)).get_span_context()
    else:
        return
    if not context.is_valid or response_id in _turns:
        return
    _turns[response_id] = context
    if len(_turns) > TURNS_REMEMBERED:
        _turns.popitem(last=False)


class StreamLinks:
    """Links one event stream's span to the trace of each turn it carries: a link, not a
    child (the stream outlives turns and carries many), and no span per token."""

    __slots__ = ("_linked", "_span")

    def __init__(self) -> None:
        self._span: Span | None = None
        self._linked: set[UUID] = set()

    def see(self, response_id: UUID) -> None:
        if _tracer is None or response_id in self._linked:
            return
        if self._span is None:
            self._span = trace.get_current_span()
        turn = _turns.get(response_id)
        if turn is None or not self._span.is_recording():
            return
        self._linked.add(response_id)
        self._span.add_link(turn, {"chatorch.response_id": str(response_id)})


# --- GenAI semantic conventions --------------------------------------------------------


def model_call(provider: str, model: str) -> Span:
    """The span of one call to one provider of the chain (``chat {model}``); it lives
    across the stream's chunks, so it is not made current (``start``)."""
    if _tracer is None:
        return INVALID_SPAN
    return start(
        f"chat {model}",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
        },
    )


def model_answered(span: Span, *, input_tokens: int, output_tokens: int, tool_calls: bool) -> None:
    """What the call came to: tokens when the provider counted them, and why it ended
    (``tool_calls`` when it asked for tools, else ``stop``)."""
    if not span.is_recording():
        return
    if input_tokens or output_tokens:
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    span.set_attribute("gen_ai.response.finish_reasons", ["tool_calls" if tool_calls else "stop"])


def tool_call(name: str, call_id: str) -> AbstractContextManager[Span]:
    """The span of one tool call (``execute_tool {name}``)."""
    if _tracer is None:
        return _NOTHING
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
    }
    return span(f"execute_tool {name}", attributes=attributes)
