"""PostgreSQL units of work on asyncpg itself: ``BEGIN``/``COMMIT`` sent by the unit, and
the message path's statements compiled once (ADR 0025).

Through SQLAlchemy's asyncpg adapter a one-row statement cost 91 µs of CPU, 20 µs on
asyncpg: a greenlet switch, an execution context and a cursor around the same call.
The PostgreSQL engine is therefore in autocommit at the driver, and a unit that must be
atomic sends its own ``BEGIN`` and ``COMMIT`` on the raw connection; SQLAlchemy's
statements (the ORM, the rare paths) then run inside that transaction exactly as the hot
statements do. A driver error is wrapped as SQLAlchemy would wrap it, so callers see
the same exceptions; a connection the driver lost is invalidated, so the pool replaces it.
"""

from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from chatorch.adapters.sql.prepared import PreparedStatements, Rows, Statement


class DirectConnection:
    """One checked-out PostgreSQL connection, seen through its asyncpg driver."""

    __slots__ = ("_connection", "_driver", "_statements", "began")

    def __init__(self, connection: AsyncConnection, statements: PreparedStatements | None):
        """``statements``: the compiled hot statements, or None to run them through
        SQLAlchemy (``echo`` on: then every statement is logged)."""
        self._connection = connection
        fairy = connection.sync_connection.connection  # type: ignore[union-attr]
        self._driver: asyncpg.Connection = fairy.driver_connection
        self._statements = statements
        self.began = False

    async def begin(self) -> None:
        await self._call(self._driver.execute, "BEGIN")
        self.began = True

    async def commit(self) -> None:
        self.began = False
        await self._call(self._driver.execute, "COMMIT")

    async def rollback(self) -> None:
        """End what the unit began; a connection that cannot is not given back for reuse.
        (A statement cut off by a cancellation is cancelled by asyncpg first.)"""
        self.began = False
        driver = self._driver
        if not driver.is_closed() and not driver.is_in_transaction():
            return  # nothing begun: each statement committed on its own
        try:
            await driver.execute("ROLLBACK")
        except Exception:
            await self._connection.invalidate()

    async def run(self, statement: Statement, params: dict[str, Any]) -> Rows | Any:
        """One of ``hot``'s statements, with plain rows back."""
        if self._statements is None:
            return await self._connection.execute(statement, params)
        prepared = self._statements.prepared(statement, params)
        arguments = prepared.arguments(params)
        fetched = await self._call(self._driver.fetch, prepared.sql, *arguments)
        return prepared.rows(fetched)

    async def _call(self, method: Any, sql: str, *arguments: Any) -> Any:
        try:
            return await method(sql, *arguments)
        except Exception as error:
            lost = self._driver.is_closed()
            if lost:
                await self._connection.invalidate()
            if not isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
                raise  # sockets and timeouts: the store's errors module knows them
            dialect = self._connection.dialect
            dbapi = dialect.loaded_dbapi
            translated = _translated(dbapi, error)
            raise sa_exc.DBAPIError.instance(
                sql,
                list(arguments),
                translated,
                dbapi.Error,
                hide_parameters=self._connection.sync_engine.hide_parameters,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error


def _translated(dbapi: Any, error: Exception) -> Exception:
    """The DB-API error SQLAlchemy's asyncpg adapter makes of ``error``: its class decides
    which SQLAlchemy exception wraps it (``IntegrityError``, ``DataError``…)."""
    mapping = dbapi._asyncpg_error_translate
    for kind in type(error).__mro__:
        if kind in mapping:
            made: Exception = mapping[kind](error.args[0] if error.args else str(error), error)
            return made
    return error
