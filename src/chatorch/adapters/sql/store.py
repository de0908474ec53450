"""The ``Store`` port on SQLAlchemy 2: PostgreSQL (asyncpg, the async engine) or SQLite
(``sqlite3`` on the loop's thread, the synchronous engine behind ``inline_sqlite``).

A transaction hands out one repository per aggregate (``chats``, ``users``, ``secrets``,
``work``, ``files``, ``bots``: a module each), all on one connection; ``SqlStore.transaction()``
commits or rolls back, nothing else commits. Driver exceptions never leave the package:
losing the database becomes ``StoreUnavailable`` (``errors``), and the two uniqueness
rules callers rely on become ``DuplicateAnswer`` and ``DuplicateKey``.

The message path's statements are the exception to the ORM: built once in ``hot`` and
run on the driver itself (``prepared``, ADR 0012; on PostgreSQL ``direct_pg``, ADR 0025,
where a unit also sends its own ``BEGIN`` and ``COMMIT``).
"""

import functools
import logging
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from chatorch.adapters.sql.bots import SqlBotRepository
from chatorch.adapters.sql.chats import SqlChatRepository
from chatorch.adapters.sql.direct_pg import DirectConnection
from chatorch.adapters.sql.errors import Backend, reraise, unavailable, unusable
from chatorch.adapters.sql.files import SqlFileRepository
from chatorch.adapters.sql.group_commit import GroupCommit
from chatorch.adapters.sql.inline_sqlite import InlineConnection, InlineEngine
from chatorch.adapters.sql.prepared import PreparedStatements
from chatorch.adapters.sql.prompts import SqlPromptRepository
from chatorch.adapters.sql.scope import SqlScope
from chatorch.adapters.sql.search import SqlSearchIndex
from chatorch.adapters.sql.secrets import SqlSecretRepository
from chatorch.adapters.sql.summaries import SqlSummaryRepository
from chatorch.adapters.sql.threads import SqlThreadRepository
from chatorch.adapters.sql.users import SqlUserRepository
from chatorch.adapters.sql.work import SqlWorkRepository
from chatorch.ports.store import Store, Transaction

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5_000
SQLITE_POOL_WAIT = 30.0  # s a transaction waits for its turn at the one connection
PING_AFTER_REST = 1.0  # s a pooled PostgreSQL connection may rest before it is pinged


class SqlTransaction:
    """One unit of work: a repository per aggregate, all on one connection's scope."""

    __slots__ = (
        "_scope",
        "bots",
        "chats",
        "files",
        "prompts",
        "search",
        "secrets",
        "summaries",
        "threads",
        "users",
        "work",
    )

    def __init__(self, scope: SqlScope) -> None:
        self._scope = scope
        self.chats = SqlChatRepository(scope)
        self.users = SqlUserRepository(scope)
        self.secrets = SqlSecretRepository(scope)
        self.work = SqlWorkRepository(scope)
        self.files = SqlFileRepository(scope)
        self.bots = SqlBotRepository(scope)
        self.prompts = SqlPromptRepository(scope)
        self.search = SqlSearchIndex(scope)
        self.summaries = SqlSummaryRepository(scope)
        self.threads = SqlThreadRepository(scope)


class SqlStore:
    """A ``Store`` on one async engine; build it with ``connect()``.

    SQLite keeps the sqlite3 driver's default ("legacy") transaction control: BEGIN is
    sent just before a transaction's first write, so the write lock is taken by that
    write and a busy writer is waited for (busy_timeout) instead of failing on a stale
    read snapshot. Reads before the first write are not isolated from other writers;
    nothing here depends on that, as every read-then-write is settled by a constraint.
    """

    def __init__(
        self,
        engine: AsyncEngine | InlineEngine,
        backend: Backend,
        commits: GroupCommit | None = None,
    ) -> None:
        self._engine = engine
        self._backend = backend
        self._commits = commits  # SQLite's: makes commits durable after the fact
        # PostgreSQL's hot statements, compiled once for asyncpg (none when echo is on:
        # then every statement goes through SQLAlchemy, which logs it).
        self._statements = (
            PreparedStatements(engine.dialect)
            if isinstance(engine, AsyncEngine) and not engine.echo
            else None
        )

    def transaction(
        self, *, durable: bool = True, atomic: bool = True
    ) -> AbstractAsyncContextManager[SqlTransaction]:
        return _Unit(self, durable, atomic)

    async def _rollback(self, connection: AsyncConnection | InlineConnection) -> None:
        """Roll back, never masking the caller's exception with a second one."""
        try:
            await connection.rollback()
        except Exception:
            log.warning("rollback failed; the connection is discarded", exc_info=True)

    async def ping(self) -> None:
        try:
            connection = await self._engine.connect()
            try:
                await connection.execute(text("SELECT 1"))
            finally:
                await connection.close()
        except Exception as error:
            reraise(error, unusable(error, self._backend))

    async def close(self) -> None:
        await self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        return {"backend": self._backend}


class _Unit:
    """One ``SqlStore.transaction()``: commits when its block ends, rolls back when it
    raises, and gives the connection back either way. A plain class, not a generator
    context manager: every answer runs five of these.

    Connecting happens on entry, so an unreachable database fails at ``async with``.
    A durable SQLite write waits for its fsync after the connection is given back.
    """

    __slots__ = ("_atomic", "_connection", "_direct", "_durable", "_store", "_transaction")

    def __init__(self, store: SqlStore, durable: bool, atomic: bool) -> None:
        self._store = store
        self._durable = durable
        self._atomic = atomic
        self._connection: AsyncConnection | InlineConnection | None = None
        self._direct: DirectConnection | None = None
        self._transaction: SqlTransaction | None = None

    async def __aenter__(self) -> SqlTransaction:
        store = self._store
        try:
            connection = await store._engine.connect()
        except Exception as error:
            reraise(error, unusable(error, store._backend))
        direct = None
        try:
            if isinstance(connection, InlineConnection):
                await connection.begin()
            else:  # autocommit at the driver: each statement commits, unless we BEGIN
                direct = DirectConnection(connection, store._statements)
                if self._atomic:
                    await direct.begin()
        except BaseException as error:
            await connection.close()
            if isinstance(error, Exception):
                reraise(error, unusable(error, store._backend))
            raise
        self._connection = connection
        self._direct = direct
        self._transaction = SqlTransaction(SqlScope(connection, store._backend, direct))
        return self._transaction

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        store, connection, transaction = self._store, self._connection, self._transaction
        direct = self._direct
        assert connection is not None
        assert transaction is not None
        wrote = False
        try:
            if error is not None:
                await self._roll_back(connection)
                return  # the block's own error goes on
            try:
                await transaction._scope.flush()
                if direct is None:
                    wrote = isinstance(connection, InlineConnection) and connection.wrote
                    await connection.commit()
                elif direct.began:
                    await direct.commit()
            except BaseException as failure:
                await self._roll_back(connection)
                if isinstance(failure, Exception):
                    reraise(failure, unavailable(failure, store._backend))
                raise
        finally:
            try:
                await transaction._scope.close()
            finally:
                await connection.close()  # given back even if the session's close failed
        if wrote and self._durable:
            assert store._commits is not None
            try:
                await store._commits.durable()  # with the connection free for others
            except Exception as failure:
                reraise(failure, unavailable(failure, store._backend))

    async def _roll_back(self, connection: AsyncConnection | InlineConnection) -> None:
        if self._direct is not None:
            await self._direct.rollback()
        else:
            await self._store._rollback(connection)


async def connect(
    url: str, *, echo: bool = False, connect_timeout: float = 5.0, pool_size: int = 20
) -> SqlStore:
    """Build a store for ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``).

    ``connect_timeout`` (s) bounds opening a PostgreSQL connection and waiting for a free
    one in the pool; SQLite has no connection to wait for. ``pool_size``: the PostgreSQL
    connections kept open, and the most ever open.

    Nothing connects yet: the service starts while the database is down, and readiness
    (``ping``) reports it until it comes back.
    """
    parsed = make_url(url)
    backend = backend_of(parsed)
    if backend == "sqlite" and _in_memory(parsed):
        raise ValueError(
            "an in-memory SQLite database cannot hold chatorch's data: the migrations and"
            " the server would each get an empty one of their own; name a file, such as"
            " sqlite+aiosqlite:///./data/chatorch.db"
        )
    if backend == "sqlite":
        commits = GroupCommit()
        return SqlStore(_sqlite_engine(parsed, echo=echo, commits=commits), backend, commits)
    engine = _postgres_engine(
        parsed, echo=echo, connect_timeout=connect_timeout, pool_size=pool_size
    )
    return SqlStore(engine, backend)


def backend_of(url: URL) -> Backend:
    """Which supported backend ``url`` names; anything else is a configuration error."""
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise ValueError(f"unsupported database {name!r}; use sqlite+aiosqlite or postgresql+asyncpg")


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def ensure_sqlite_directory(url: URL) -> None:
    """Create the directory of a SQLite file, which SQLite itself refuses to do."""
    database = url.database
    if backend_of(url) != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:"):  # a URI filename; leave it to SQLite
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (message metadata, audit details) through orjson, not the json module.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _sqlite_engine(url: URL, *, echo: bool, commits: GroupCommit) -> InlineEngine:
    """SQLAlchemy's synchronous engine on the standard library's driver (inline_sqlite)."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url.set(drivername="sqlite"),
        echo=echo,
        hide_parameters=True,  # a failing statement's error never carries user text
        pool_size=1,  # one connection, used in turns: see inline_sqlite
        max_overflow=0,
        **_JSON_CODEC,
    )
    event.listen(engine, "connect", functools.partial(_configure_sqlite, commits))
    return InlineEngine(engine, wait=SQLITE_POOL_WAIT)


def _configure_sqlite(commits: GroupCommit, dbapi_connection: Any, _record: Any) -> None:
    """Per connection: WAL so readers never block the writer, foreign keys enforced (off
    by default in SQLite), and a busy timeout so a second writer waits instead of failing.

    ``synchronous=NORMAL``: a commit writes the log without syncing it, and the store
    waits for ``commits`` to sync it instead, many commits to one fsync (ADR 0010).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)
        cursor.execute("PRAGMA database_list")
        file = next((row[2] for row in cursor.fetchall() if row[1] == "main"), "")
        commits.database = Path(file) if file else None
    finally:
        cursor.close()


def _unicode_lower(value: object) -> object:
    """lower() for every alphabet: SQLite's own folds ASCII letters only."""
    return value.lower() if isinstance(value, str) else value


def _postgres_engine(
    url: URL, *, echo: bool, connect_timeout: float, pool_size: int
) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,  # a failing statement's error never carries user text
        # No overflow: a connection beyond the pool was closed when given back, and
        # under a load that kept needing it each new one cost the server a process, a
        # login and every statement prepared again (15 a second at 64 streams on a
        # gateway with 10 + 10). A unit now waits its turn for one of the pool's, as
        # SQLite's units take turns at its one connection (so none holds one while
        # waiting for another).
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=connect_timeout,
        pool_recycle=1_800,
        isolation_level="AUTOCOMMIT",  # a unit sends its own BEGIN when atomic (direct_pg)
        connect_args={"timeout": connect_timeout, "command_timeout": 60},
        **_JSON_CODEC,
    )
    event.listen(engine.sync_engine, "checkin", _rested)
    event.listen(engine.sync_engine, "checkout", _alive_if_rested)
    return engine


def _rested(_dbapi_connection: Any, record: Any) -> None:
    record.info["rested_at"] = time.monotonic()


def _alive_if_rested(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A connection that rested ``PING_AFTER_REST`` s is pinged before use, and replaced
    if the server went away meanwhile (the pool retries on ``DisconnectionError``).

    Not SQLAlchemy's ``pool_pre_ping``: that is a round trip before every transaction —
    four per answer on a gateway — while a connection used a moment ago is alive. One
    that broke in that moment fails one transaction, and the pool then replaces every
    connection older than the failure.
    """
    rested_at = record.info.get("rested_at")
    if rested_at is None or time.monotonic() - rested_at < PING_AFTER_REST:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise DisconnectionError(f"the database connection was lost: {error!r}") from error


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_store(store: SqlStore) -> Store:
        return store

    def _is_transaction(transaction: SqlTransaction) -> Transaction:
        return transaction
