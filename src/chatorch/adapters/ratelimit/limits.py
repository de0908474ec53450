"""LimitsRateLimiter: moving-window rate limits with the ``limits`` library.

In memory for the embedded mode; on Redis when several processes must share the counts.
A limiter fails *open*: when its storage does not answer, the hit is allowed and a
warning logged, because an outage of the cache must not take the whole API down with it.
"""

import math
import time
from urllib.parse import urlsplit

import redis.asyncio as redis
import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from chatorch.adapters.redis.client import connect as connect_redis
from chatorch.ports.ratelimit import Decision

log = structlog.get_logger(__name__)

_REDIS_SCHEMES = ("redis", "rediss")


class LimitsRateLimiter:
    """The RateLimiter port on a ``limits`` async storage, with the moving-window strategy.

    ``hit`` fails open: a storage error (Redis down or timing out) is logged as a
    warning and the hit allowed, so rate limiting never blocks requests on its own outage.
    A rule that does not parse (e.g. ``"ten a minute"``) is a configuration error and
    raises ``ValueError``.
    """

    def __init__(self, storage: Storage, *, client: "redis.Redis | None" = None) -> None:
        self._storage = storage
        self._client = client  # the Redis client under ``storage``, closed with the limiter
        self._strategy = MovingWindowRateLimiter(storage)
        self._rules: dict[str, RateLimitItem] = {}

    def _rule(self, rule: str) -> RateLimitItem:
        item = self._rules.get(rule)
        if item is None:
            item = self._rules[rule] = parse(rule)
        return item

    async def hit(self, rule: str, key: str) -> Decision:
        """Count the hit; only a refusal asks the storage for the window (on Redis, a
        second round trip), to say when to come back."""
        item = self._rule(rule)
        try:
            if await self._strategy.hit(item, key):
                return Decision(allowed=True, retry_after=0.0)
            stats = await self._strategy.get_window_stats(item, key)
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
        timer = getattr(self._storage, "timer", None)  # MemoryStorage's expiry task
        if timer is not None and not timer.done():
            timer.cancel()


def from_url(url: str, *, namespace: str) -> LimitsRateLimiter:
    """A limiter on chatorch's cache URL: ``memory://`` or ``redis[s]://host:port/db``.

    On Redis every key starts with ``<namespace>:ratelimit:``.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return LimitsRateLimiter(MemoryStorage(wrap_exceptions=True))
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
        return LimitsRateLimiter(storage, client=client)
    raise ValueError(f"no rate limiter for a URL of scheme {scheme!r}; use memory:// or redis://")
