"""One Redis connection pool per process, and the translation of its errors."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatorch.domain.errors import ServiceUnavailable

CONNECT_TIMEOUT = 2.0  # s: fail fast at start and in readiness probes
COMMAND_TIMEOUT = 5.0  # s


def connect(url: str) -> "redis.Redis":
    return redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        health_check_interval=30,
        retry_on_timeout=False,
    )


@asynccontextmanager
async def translated(error: type[ServiceUnavailable], what: str) -> AsyncIterator[None]:
    """Turn redis-py's connection failures into the port's ``error``."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as failure:
        raise error(f"{what}: Redis did not answer ({failure})") from failure


def millis(seconds: float) -> int:
    """A TTL for Redis, in whole milliseconds, never zero (zero would mean "expired")."""
    return max(1, round(seconds * 1000))
