"""The backing services of the distributed runs: a database, streams and keys of our own.

Each bench run gets a fresh PostgreSQL database and a NATS/Redis namespace of its own,
removed afterwards, so it neither sees nor leaves anything behind.
"""

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
PORTS = {"PostgreSQL": 5432, "Redis": 6379, "NATS": 4222}


@dataclass(frozen=True, slots=True)
class Backing:
    """chatorch settings (without the ``CHATORCH_`` prefix) that point at them."""

    settings: dict[str, str]


def missing() -> list[str]:
    """The backing services not listening on 127.0.0.1."""
    absent = []
    for name, port in PORTS.items():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            absent.append(f"{name} (127.0.0.1:{port})")
    return absent


async def _postgres(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _forget(namespace: str) -> None:
    import nats
    import redis.asyncio as redis

    client = await nats.connect(NATS)
    try:
        for stream in (f"{namespace}_work", f"{namespace}_events"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await client.jetstream().delete_stream(stream)
    finally:
        await client.close()
    cache = redis.Redis.from_url(REDIS)
    try:
        keys = [key async for key in cache.scan_iter(f"{namespace}:*", count=1000)]
        if keys:
            await cache.delete(*keys)
    finally:
        await cache.aclose()


@contextmanager
def backing_services() -> Iterator[Backing]:
    """A fresh database and namespace for one system's run; all removed on exit."""
    namespace = f"bench{secrets.token_hex(4)}"
    database = f"chatorch_{namespace}"
    asyncio.run(_postgres(f"CREATE DATABASE {database}"))
    try:
        yield Backing(
            {
                "database_url": POSTGRES.replace(
                    "postgresql://", "postgresql+asyncpg://", 1
                ).rsplit("/", 1)[0]
                + f"/{database}",
                "bus_url": NATS,
                "cache_url": REDIS,
                "namespace": namespace,
            }
        )
    finally:
        asyncio.run(_postgres(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        asyncio.run(_forget(namespace))
