"""The uvicorn servers behind ``serve``, ``gateway`` and ``worker --port``.

Imported inside those commands only: it loads uvicorn and the app's stream hub.
uvicorn runs with ``log_config=None``, so its own lines go through ``chatorch.logs``.
"""

import contextlib
from typing import Any

import uvicorn
from fastapi import FastAPI

from chatorch.api.events import StreamHub
from chatorch.api.protocol import server_options
from chatorch.settings import Settings

GRACEFUL_SHUTDOWN = 5  # s open streams get to finish when the server stops


class MetricsServer(uvicorn.Server):
    """The metrics port: the main server's signal handling stops it too."""

    def capture_signals(self) -> Any:
        return contextlib.nullcontext()


class DrainingServer(uvicorn.Server):
    """On SIGTERM, end open event streams at once, so their clients move elsewhere."""

    def __init__(self, config: uvicorn.Config, *, streams: StreamHub) -> None:
        super().__init__(config)
        self._streams = streams
        self.companions: list[uvicorn.Server] = []

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._streams.drain()
        for companion in self.companions:
            companion.should_exit = True
        super().handle_exit(sig, frame)
        # uvicorn would re-raise the signal once the server stops, killing the process
        # before the worker hands back its work and the connections close; we exit 0.
        self._captured_signals.clear()


def http_servers(
    settings: Settings, app: FastAPI, *, metrics: FastAPI | None
) -> list[uvicorn.Server]:
    """The app's server on CHATORCH_HOST:PORT, and the metrics app's on METRICS_PORT."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        **server_options(settings),
    )
    main = DrainingServer(config, streams=app.state.streams)
    if metrics is None or settings.metrics_port is None:
        return [main]
    companion = MetricsServer(
        uvicorn.Config(
            metrics,
            host=settings.host,
            port=settings.metrics_port,
            log_config=None,
            access_log=False,
            **server_options(settings),
        )
    )
    main.companions.append(companion)
    return [main, companion]
