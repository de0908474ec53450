"""Fixtures for the contract suites: each port's adapters behind one parametrized fixture."""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
from sqlalchemy.engine import make_url

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import connect
from chatorch.ports.store import Store
from tests.services import POSTGRES_URL, drop_nats_streams, require

# ---- Store ---------------------------------------------------------------------------

_STORE_TABLES = "users, chats, messages, files, idempotency_keys, api_keys, audit_events, secrets"
_STORE_TABLES += ", prompts"  # no user owns them: truncating users leaves them


async def _postgres_execute(url: str, sql: str) -> None:
    """Run one statement with plain asyncpg, outside any store under test."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _postgres_admin(sql: str) -> None:
    """Run one statement on the server's ``test`` database from synchronous code.

    A thread of its own gives ``asyncio.run`` a thread with no loop, whoever calls.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _postgres_execute(POSTGRES_URL, sql)).result()


@pytest.fixture(scope="session")
def postgres_store_url() -> Iterator[str]:
    """A freshly migrated database of this test process's own, dropped at the end.

    Named per process so pytest-xdist workers (and concurrent runs) never share one.
    """
    server = make_url(POSTGRES_URL)
    require("PostgreSQL", server.host or "127.0.0.1", server.port or 5432)
    name = f"chatorch_test_{os.getpid()}_{secrets.token_hex(4)}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlite_store_url(directory: Path) -> str:
    # A folder that does not exist yet: the migration must create it.
    url = f"sqlite+aiosqlite:///{directory / 'data' / 'chatorch.db'}"
    upgrade(url)
    return url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for each Store backend."""
    if request.param == "sqlite":
        return _sqlite_store_url(tmp_path)
    url: str = request.getfixturevalue("postgres_store_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A store on an empty database; its engine lives and dies with the test's loop."""
    if make_url(store_url).get_backend_name() == "postgresql":
        await _postgres_execute(store_url, f"TRUNCATE {_STORE_TABLES} CASCADE")
    adapter = await connect(store_url)
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A store on a fresh, migrated SQLite database, for suites of ports that need one."""
    adapter = await connect(_sqlite_store_url(tmp_path))
    try:
        yield adapter
    finally:
        await adapter.close()


# ---- Redis ---------------------------------------------------------------------------


@asynccontextmanager
async def redis_namespace() -> AsyncIterator[str]:
    """A namespace of this test's own on the shared Redis; its keys go at the end."""
    from redis.asyncio import from_url

    from tests.services import REDIS_URL

    require("Redis", "127.0.0.1", 6379)
    namespace = f"test-{secrets.token_hex(6)}"
    yield namespace
    client = from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ---- NATS ----------------------------------------------------------------------------


@asynccontextmanager
async def nats_namespace() -> AsyncIterator[str]:
    """A namespace of this test's own on the shared NATS; its streams go at the end."""
    require("NATS", "127.0.0.1", 4222)
    namespace = f"test-{secrets.token_hex(6)}"
    try:
        yield namespace
    finally:
        await drop_nats_streams(namespace)
