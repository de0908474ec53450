"""Which streams the registry is told about: those that stay open a moment.

The registry (Redis when distributed) only observes streams, for
``/v1/admin/connections`` and ``chatorch status``. Telling it of every stream cost three
round trips per answer, one of them before the stream's first event; most response
streams end within a second. A stream is registered once it has been open
``REGISTER_AFTER`` s (in the background), and unregistered when it ends only if it was.
"""

import asyncio
import contextlib
from collections.abc import Awaitable

import structlog

from chatorch.container import Container
from chatorch.domain.entities import Connection
from chatorch.domain.errors import RegistryUnavailable

log = structlog.get_logger(__name__)

REGISTER_AFTER = 1.0  # s a stream is open before the registry hears of it


class Presence:
    """One open stream's place in the registry: none yet, coming, or taken."""

    __slots__ = ("_c", "_connection", "_registering", "_timer")

    def __init__(self, c: Container, connection: Connection) -> None:
        self._c, self._connection = c, connection
        # Held only while it runs: an idle stream keeps no finished task (nor its context).
        self._registering: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = loop.call_later(REGISTER_AFTER, self._register)

    def _register(self) -> None:
        self._timer = None
        ttl = 3 * self._c.settings.heartbeat_seconds
        self._registering = asyncio.ensure_future(
            registry_call(self._c.registry.register(self._connection, ttl=ttl))
        )
        self._registering.add_done_callback(self._registered)

    def _registered(self, task: "asyncio.Task[None]") -> None:
        if self._registering is task:
            self._registering = None

    async def end(self) -> None:
        """The stream ended: take it out of the registry, if it was ever put in."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            return
        if self._registering is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._registering)
        await asyncio.shield(registry_call(self._c.registry.unregister(self._connection.id)))


async def registry_call(call: Awaitable[None]) -> None:
    """The registry only observes streams: when it is down, streams flow on regardless."""
    try:
        await call
    except RegistryUnavailable as error:
        log.warning("registry.degraded", detail=error.detail)
