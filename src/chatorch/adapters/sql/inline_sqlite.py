"""SQLite on the event loop's own thread, through SQLAlchemy's synchronous engine.

SQLite answers a one-row statement in microseconds, in the calling thread; there is no
server to wait for. Through SQLAlchemy's async engine each call still went by a greenlet
and the aiosqlite adapter: the store's transaction of one INSERT took 0.125 ms of CPU,
0.06 ms through the synchronous engine (docs/performance.md). These classes give the
store the few async methods it calls — each runs at once — over SQLAlchemy's
synchronous connection and session, so every store method is the same for SQLite and
PostgreSQL.

The engine holds one connection, and transactions take turns at it (an asyncio lock,
which waits without blocking the loop): a second connection would wait *on* the loop
for the first one's write lock. The connection stays checked out between turns:
taking it from the pool and giving it back cost more than a short transaction. A
commit does not fsync here; ``group_commit`` does, off the loop. Another process
writing to the same file (the CLI) makes the loop wait for its lock, at most the busy
timeout.
"""

import asyncio
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Executable, Result, ScalarResult
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from chatorch.adapters.sql.prepared import PreparedStatements, Rows, Statement

T = TypeVar("T")

# The store's ORM sessions, async or not. expire_on_commit=False: entities are built
# before commit, rows never reused.
SESSION_OPTIONS: dict[str, Any] = {"expire_on_commit": False, "autoflush": False}


class InlineEngine:
    """Lends the one connection to one transaction at a time."""

    def __init__(self, engine: Engine, *, wait: float) -> None:
        self.sync = engine
        self._wait = wait  # s a transaction waits for its turn
        self._turn = asyncio.Lock()
        self._held: Connection | None = None  # between turns, unless a turn went wrong
        # Echo logs statements as SQLAlchemy runs them: then every one goes through it.
        self.prepared = None if engine.echo else PreparedStatements(engine.dialect)

    async def connect(self) -> "InlineConnection":
        """The connection, once it is this caller's turn; ``close()`` gives it back."""
        if self._turn.locked():  # else acquiring cannot wait, and needs no deadline
            try:
                async with asyncio.timeout(self._wait):
                    await self._turn.acquire()
            except TimeoutError:
                detail = f"no turn at the connection within {self._wait:g} s"
                raise sa_exc.TimeoutError(detail) from None
        else:
            await self._turn.acquire()
        try:
            if self._held is None:
                self._held = self.sync.connect()
            return InlineConnection(self._held, self)
        except BaseException:
            self._turn.release()
            raise

    def give_back(self, connection: Connection) -> None:
        """End a turn. What the turn left begun (a read outside ``begin``, as ``ping``
        makes) is rolled back, as the pool's reset would; a connection its driver
        invalidated, or that cannot roll back, goes back to the pool, which replaces it."""
        try:
            broken = connection.invalidated
            if not broken and connection.in_transaction():
                try:
                    connection.rollback()
                except sa_exc.SQLAlchemyError:
                    broken = True
            if broken:
                self._held = None
                connection.close()
        finally:
            self._turn.release()

    async def dispose(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        self.sync.dispose()


class InlineConnection:
    """``AsyncConnection``'s methods the store uses, over a synchronous ``Connection``."""

    __slots__ = ("_engine", "sync")

    def __init__(self, connection: Connection, engine: InlineEngine) -> None:
        self.sync = connection
        self._engine = engine

    @property
    def wrote(self) -> bool:
        """Whether the transaction wrote: the driver begins one only before a first write."""
        return bool(self.sync.connection.driver_connection.in_transaction)  # type: ignore[union-attr]

    async def begin(self) -> None:
        self.sync.begin()

    async def commit(self) -> None:
        self.sync.commit()

    async def rollback(self) -> None:
        self.sync.rollback()

    async def close(self) -> None:
        self._engine.give_back(self.sync)

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self.sync.execute(statement, parameters)

    async def run(
        self, statement: Statement, parameters: Mapping[str, Any]
    ) -> Rows | CursorResult[Any]:
        """One of the message path's prebuilt statements (``hot``), on the driver itself."""
        prepared = self._engine.prepared
        if prepared is None:
            return self.sync.execute(statement, parameters)
        try:
            return prepared.run(self.sync.connection.driver_connection, statement, parameters)
        except sa_exc.DBAPIError as error:
            if error.connection_invalidated:
                self.sync.invalidate(error)
            raise

    def session(self) -> "InlineSession":
        return InlineSession(Session(bind=self.sync, **SESSION_OPTIONS))


class InlineSession:
    """``AsyncSession``'s methods the store uses, over a synchronous ``Session``."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, instance: object) -> None:
        self._session.add(instance)

    async def execute(self, statement: Executable) -> Result[Any]:
        return self._session.execute(statement)

    async def scalar(self, statement: Executable) -> Any:
        return self._session.scalar(statement)

    async def scalars(self, statement: Executable) -> ScalarResult[Any]:
        return self._session.scalars(statement)

    async def get(
        self, entity: type[T], ident: Any, *, populate_existing: bool = False
    ) -> T | None:
        return self._session.get(entity, ident, populate_existing=populate_existing)

    async def flush(self) -> None:
        self._session.flush()

    async def close(self) -> None:
        self._session.close()
