"""The backing services of the distributed runs: a database, streams and keys of our own.

Each bench run gets a fresh PostgreSQL database and a NATS/Redis namespace of its own,
removed afterwards, so it neither sees nor leaves anything behind. The servers are the
ones the tests use (``tests/services.py``, ``CHATORCH_TEST_*_URL``).
"""

import asyncio
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from tests.services import NATS_URL, POSTGRES_URL, REDIS_URL, drop_nats_streams, postgres_admin

PORTS = {"PostgreSQL": 5432, "Redis": 6379, "NATS": 4222}
PROCESSES = {"postgres": "PostgreSQL", "redis-server": "Redis", "nats-server": "NATS"}


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


async def _forget(namespace: str) -> None:
    import redis.asyncio as redis

    await drop_nats_streams(namespace)
    cache = redis.Redis.from_url(REDIS_URL)
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
    asyncio.run(postgres_admin(f"CREATE DATABASE {database}"))
    try:
        yield Backing(
            {
                "database_url": POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
                "bus_url": NATS_URL,
                "cache_url": REDIS_URL,
                "namespace": namespace,
            }
        )
    finally:
        asyncio.run(postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        asyncio.run(_forget(namespace))


class ServersCpu:
    """The CPU seconds the backing servers' processes on this machine spend in a window.

    Read from their processes by name (whoever runs them): for PostgreSQL, every backend
    alive at both ends plus what backends that ended meanwhile left to the postmaster.
    Anything else using those servers at the time is counted too.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}  # PostgreSQL|Redis|NATS → CPU s, set on exit
        self._start: dict[int, tuple[str, float]] = {}

    @staticmethod
    def _now() -> dict[int, tuple[str, float]]:
        found = {}
        for process in psutil.process_iter(["name"]):
            kind = PROCESSES.get(process.info["name"] or "")
            if kind is None:
                continue
            try:
                t = process.cpu_times()
            except psutil.Error:
                continue
            found[process.pid] = (kind, t.user + t.system + t.children_user + t.children_system)
        return found

    def __enter__(self) -> "ServersCpu":
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.seconds = {kind: 0.0 for kind in PROCESSES.values()}
        for pid, (kind, cpu) in end.items():
            if pid in self._start:
                self.seconds[kind] += cpu - self._start[pid][1]
