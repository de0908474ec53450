"""LimitsRateLimiter: moving-window rate limits with the ``limits`` library.

In memory for the embedded mode; on Redis when several processes must share the counts.
A limiter fails *open*: when its storage does not answer, the hit is allowed and a
warning logged, because an outage of the cache must not take the whole API down with it.
"""

import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

import limits.storage
import limits.strategies
import redis.asyncio as redis
import structlog
from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.ports.ratelimit import Decision

log = structlog.get_logger(__name__)

_REDIS_SCHEMES = ("redis", "rediss")


class MovingWindow(Protocol):
    """The calls of ``limits``' async moving-window strategy this adapter makes."""

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


class InProcessWindow:
    """``limits``' synchronous in-memory moving window, called from the event loop.

    Its async twin makes each hit start a pass that expires old entries holding the
    key's lock across a hop to a thread, so the hits that follow queue on that lock:
    a hit cost about twice as much CPU as here, where a thread lock is held for
    microseconds and a timer thread expires entries (docs/performance.md).
    """

    def __init__(self) -> None:
        self._storage = limits.storage.MemoryStorage(wrap_exceptions=True)
        self._window = limits.strategies.MovingWindowRateLimiter(self._storage)

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._window.hit(item, *identifiers, cost=cost)

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._window.test(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._window.get_window_stats(item, *identifiers)

    def close(self) -> None:
        self._storage.timer.cancel()


class LimitsRateLimiter:
    """The RateLimiter port on ``limits``' moving-window strategy (in memory or on Redis).

    ``hit`` fails open: a storage error (Redis down or timing out) is logged as a
    warning and the hit allowed, so rate limiting never blocks requests on its own outage.
    A rule that does not parse (e.g. ``"ten a minute"``) is a configuration error and
    raises ``ValueError``.
    """

    def __init__(self, window: MovingWindow, *, client: "redis.Redis | None" = None) -> None:
        self._window = window
        self._client = client  # the Redis client under ``window``, closed with the limiter
        self._rules: dict[str, RateLimitItem] = {}

    def _rule(self, rule: str) -> RateLimitItem:
        item = self._rules.get(rule)
        if item is None:
            item = self._rules[rule] = parse(rule)
        return item

    async def hit(self, rule: str, key: str) -> Decision:
        """Count the hit; only a refusal asks the storage for the window (on Redis, a
        second round trip), to say when to come back."""
        return await self._decide(rule, key, self._window.hit)

    async def test(self, rule: str, key: str) -> Decision:
        return await self._decide(rule, key, self._window.test)

    async def _decide(
        self, rule: str, key: str, allows: Callable[[RateLimitItem, str], Awaitable[bool]]
    ) -> Decision:
        item = self._rule(rule)
        try:
            if await allows(item, key):
                return Decision(allowed=True, retry_after=0.0)
            stats = await self._window.get_window_stats(item, key)
        except (StorageError, OSError, TimeoutError) as failure:
            cause = failure.storage_error if isinstance(failure, StorageError) else failure
            log.warning(
                "rate limit storage failed; allowing the hit",
                rule=rule,
                error=f"{type(cause).__name__}: {cause}",
            )
            return Decision(allowed=True, retry_after=0.0)
        # Whole seconds, as HTTP's Retry-After wants them; never 0 for a refusal.
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed=False, retry_after=float(retry_after))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if isinstance(self._window, InProcessWindow):
            self._window.close()


def from_url(url: str, *, namespace: str) -> LimitsRateLimiter:
    """A limiter on chatorch's cache URL: ``memory://`` or ``redis[s]://host:port/db``.

    On Redis every key starts with ``<namespace>:ratelimit:``.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return LimitsRateLimiter(InProcessWindow())
    if scheme in _REDIS_SCHEMES:
        client = connect_redis(url)
        storage = RedisStorage(
            f"async+{url}",
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=f"{namespace}:ratelimit",
            # The client's pool: its timeouts apply, and closing the client closes it.
            connection_pool=client.connection_pool,  # type: ignore[arg-type]
        )
        return LimitsRateLimiter(MovingWindowRateLimiter(storage), client=client)
    raise ValueError(f"no rate limiter for a URL of scheme {scheme!r}; use memory:// or redis://")
