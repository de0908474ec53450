"""Reach the real servers this machine runs, or skip — or fail when CI requires them.

``CHATORCH_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing server into a
failure, so CI can never go green by skipping the adapters it is meant to test.
"""

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

POSTGRES_URL = os.environ.get(
    "CHATORCH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CHATORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CHATORCH_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) unless ``name`` listens on ``host:port``."""
    if _listening(host, port):
        return
    reason = f"{name} is not listening on {host}:{port}"
    if os.environ.get("CHATORCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATORCH_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{reason}; start it to run this test")


async def postgres_admin(sql: str) -> None:
    """Run one statement on the server's ``test`` database (create or drop a database)."""
    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database of the caller's own; yields its URL."""
    name = f"chatorch_t_{secrets.token_hex(5)}"
    await postgres_admin(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def drop_nats_streams(namespace: str) -> None:
    """Remove the streams chatorch made under ``namespace``."""
    import nats

    client = await nats.connect(NATS_URL)
    try:
        for stream in (f"{namespace}_work", f"{namespace}_events"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await client.jetstream().delete_stream(stream)
    finally:
        await client.close()
