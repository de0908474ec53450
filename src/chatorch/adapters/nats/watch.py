"""The NATS connection's ups and downs, said once each in the log."""

import math
import time

import structlog

log = structlog.get_logger(__name__)


class ConnectionWatch:
    """The connection's ups and downs, logged in one line each (not as tracebacks).

    nats-py calls ``error`` on every failed attempt, one each RECONNECT_WAIT. Before the
    first connection those stay unsaid (``NatsBus.connect`` reports the last one if the
    start fails); during an outage, only its first error and any different one are
    logged, between ``nats.disconnected`` and ``nats.reconnected``.
    """

    def __init__(self) -> None:
        self.closing = False  # a disconnect we asked for is no news
        self.connected = False  # once the first connection is made
        self.last_error: Exception | None = None
        self._outage_said: str | None = None  # the error last logged in this outage
        self._down = False
        self.interrupted_at = -math.inf  # monotonic s the connection last broke

    async def error(self, error: Exception) -> None:
        self.last_error = error
        if self.closing or not self.connected:
            return
        self.interrupted_at = time.monotonic()
        said = repr(error)
        if self._down and said == self._outage_said:
            return
        self._outage_said = said if self._down else None
        log.warning("nats.error", error=said)

    async def disconnected(self) -> None:
        self.interrupted_at = time.monotonic()
        if self.closing or not self.connected or self._down:
            return
        self._down = True
        log.warning("nats.disconnected")

    async def reconnected(self) -> None:
        self._down, self._outage_said = False, None
        log.info("nats.reconnected")
