"""Structured JSON logs (structlog), carrying request_id, chat_id and message_id, and
the trace_id and span_id of the span a line is written in when tracing is on.

Those ids are bound in context variables at the boundary (request middleware, the
worker's job handler), so every line logged below them carries them unasked.

Libraries that log through ``logging`` (uvicorn, nats, sqlalchemy) are rendered by the
same processors, so a process prints one format: in JSON, one compact object per line
whose fields come first and ``event``, ``level`` and ``timestamp`` last.
"""

import logging
import sys
from typing import Any

import orjson
import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

QUIET_AT_INFO = ("httpx2",)
# Lines that carry a credential, even at debug: httpx logs every request's URL, and the
# Telegram token is part of the Bot API's path; python-telegram-bot and slack-sdk log the
# parameters (people's messages) of every call. Only their warnings and errors are shown.
NEVER_BELOW_WARNING = ("httpx", "httpcore", "telegram", "slack_sdk")


def configure(*, level: str = "info", fmt: str = "json") -> None:
    # Our own events skip ``logging``: rendered straight to bytes on stderr, as orjson
    # writes them, a line costs a fraction of what a LogRecord would (docs/performance.md).
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            *_stamp(),
            _renderer(fmt, text=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(
            structlog.BytesLoggerFactory(sys.stderr.buffer)
            if fmt == "json"
            else structlog.PrintLoggerFactory(sys.stderr)
        ),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(level=level, fmt=fmt)


def _stamp() -> list[Processor]:
    """What every line gets after its own fields, whoever logged it."""
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def _renderer(fmt: str, *, text: bool) -> Processor:
    """The last processor; ``text``: a ``str`` for ``logging``, else bytes when JSON."""
    if fmt != "json":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.processors.JSONRenderer(serializer=_dumps_text if text else orjson.dumps)


def _dumps_text(obj: Any, **options: Any) -> str:
    return orjson.dumps(obj, **options).decode()


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``trace_id`` and ``span_id`` of the span the line is written in, if there is one:
    a line found in the logs leads to its turn's trace, and back (docs/operations.md)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def _message_last(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A library's message after its fields (``logger``, the context), as ours are."""
    event_dict["event"] = event_dict.pop("event")
    return event_dict


def _route_standard_logging(*, level: str, fmt: str) -> None:
    """Libraries log through ``logging`` (uvicorn, nats, sqlalchemy): same format, same stream.

    uvicorn is started with ``log_config=None``, so its loggers (``uvicorn.error``,
    ``uvicorn.access``) have no handler of their own and reach this one.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.contextvars.merge_contextvars,
                add_trace_ids,
                _message_last,
                *_stamp(),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _renderer(fmt, text=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    # The HTTP clients under the model SDKs log every request at info: a line per model
    # call that says less than our own, for ~5% of the server's CPU under load
    # (docs/performance.md). Their warnings still show, and at debug everything does.
    quiet = logging.WARNING if root.level > logging.DEBUG else logging.NOTSET
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(quiet)
    for name in NEVER_BELOW_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)
