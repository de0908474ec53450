"""What the repositories of one transaction share: its connection, a lazily made ORM
session on it, and the few statement helpers more than one aggregate needs."""

import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import CursorResult
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chatorch.adapters.sql.direct_pg import DirectConnection
from chatorch.adapters.sql.errors import Backend, brief, unavailable
from chatorch.adapters.sql.inline_sqlite import SESSION_OPTIONS, InlineConnection, InlineSession
from chatorch.adapters.sql.models import Base
from chatorch.adapters.sql.prepared import Rows, Statement
from chatorch.domain.errors import InvalidInput

P = ParamSpec("P")
T = TypeVar("T")


class SqlScope:
    """One unit of work's connection; ``SqlStore.transaction()`` opens and ends it."""

    __slots__ = ("_direct", "_orm", "backend", "connection")

    def __init__(
        self,
        connection: AsyncConnection | InlineConnection,
        backend: Backend,
        direct: DirectConnection | None = None,
    ) -> None:
        self.connection = connection
        self.backend = backend
        self._direct = direct  # PostgreSQL's driver: runs the prebuilt statements (hot.py)
        self._orm: AsyncSession | InlineSession | None = None

    @property
    def session(self) -> AsyncSession | InlineSession:
        """An ORM session on this transaction's connection, made when first needed.

        The message path runs prebuilt statements on the connection alone: making a
        session it does not use cost as much as one of its statements.
        """
        if self._orm is None:
            if isinstance(self.connection, InlineConnection):
                self._orm = self.connection.session()
            else:
                self._orm = AsyncSession(bind=self.connection, **SESSION_OPTIONS)
        return self._orm

    async def flush(self) -> None:
        """Write what the session holds, before the transaction commits."""
        if self._orm is not None:
            await self._orm.flush()

    async def close(self) -> None:
        if self._orm is not None:
            await self._orm.close()

    async def run(self, statement: Statement, params: dict[str, Any]) -> Rows | CursorResult[Any]:
        """One of ``hot``'s statements, straight on the driver (``prepared``, ``direct_pg``)."""
        if self._direct is not None:
            return await self._direct.run(statement, params)
        if isinstance(self.connection, InlineConnection):
            return await self.connection.run(statement, params)
        return await self.connection.execute(statement, params)

    async def insert_unless_taken(
        self, model: type[Base], values: dict[str, Any], unique: Sequence[str]
    ) -> bool:
        """``INSERT … ON CONFLICT (unique) DO NOTHING``; False when the slot was taken.

        A conflict skips the row instead of raising, so the transaction stays usable on
        PostgreSQL (where a failed statement aborts it) and needs no savepoint; a racing
        writer's uncommitted row makes this wait for its outcome rather than fail.
        """
        insert = pg_insert if self.backend == "postgresql" else sqlite_insert
        statement = (
            insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=unique)
            .returning(*model.__table__.primary_key)
        )
        return (await self.session.execute(statement)).first() is not None

    async def get(self, model: type[T], key: Any) -> T | None:
        """Load by primary key, re-reading the row rather than trusting the identity map."""
        return await self.session.get(model, key, populate_existing=True)


class SqlRepository:
    """One aggregate's statements, on the scope of the transaction that made it."""

    __slots__ = ("_scope",)

    def __init__(self, scope: SqlScope) -> None:
        self._scope = scope


R = TypeVar("R", bound=SqlRepository)


def translated(
    method: Callable[Concatenate[R, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[R, P], Coroutine[Any, Any, T]]:
    """A repository method whose lost database is ``StoreUnavailable``, and a value
    the database refuses (too long, a NUL) ``InvalidInput``, never a 500.

    Plain ``try``, not a context manager: this wraps every statement of every answer.
    """

    @functools.wraps(method)
    async def wrapper(self: R, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except Exception as error:
            lost = unavailable(error, self._scope.backend)
            if lost is not None:
                raise lost from error
            if _data_exception(error):
                raise InvalidInput(f"the database refused a value: {brief(error)}") from error
            raise

    return wrapper


def _data_exception(error: Exception) -> bool:
    """A value the column cannot hold: SQLSTATE class 22 (too long, NUL, out of range),
    which asyncpg's dialect reports as a plain ``DBAPIError``."""
    if isinstance(error, sa_exc.DataError):
        return True
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, sa_exc.DBAPIError) and isinstance(code, str) and code[:2] == "22"
