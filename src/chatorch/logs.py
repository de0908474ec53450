"""Structured JSON logs (structlog), carrying request_id, chat_id and message_id.

Those ids are bound in context variables at the boundary (request middleware, the
worker's job handler), so every line logged below them carries them unasked.
"""

import logging
import sys

import orjson
import structlog

QUIET_AT_INFO = ("httpx", "httpx2")


def configure(*, level: str = "info", fmt: str = "json") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
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


def _route_standard_logging(*, level: str, fmt: str) -> None:
    """Libraries log through ``logging`` (uvicorn, nats, sqlalchemy): same format, same stream."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=(
                structlog.processors.JSONRenderer()
                if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
            ),
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
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
