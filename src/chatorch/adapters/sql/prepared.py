"""The message path's statements on the SQLite driver itself, compiled once by SQLAlchemy.

SQLAlchemy still builds each statement (``hot``), compiles it for the dialect and
supplies every column type's conversion; what this skips is its per-call execution
machinery — cache key, execution context, result metadata — which cost ten times the
``sqlite3`` call it wraps (35 µs around 2.5 µs for a one-row SELECT; ADR 0012). Driver
errors are wrapped as SQLAlchemy would wrap them, so callers see the same exceptions.

Only statements built once at import go through here, so the cache stays small.
"""

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

Statement = Select[Any] | UpdateBase
Convert = Callable[[Any], Any] | None


class Rows:
    """A statement's rows, with the three ways of reading them the store uses."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> Sequence[Any]:
        return self._rows

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise sa_exc.MultipleResultsFound("more than one row where at most one was expected")
        return self._rows[0][0] if self._rows else None


class Prepared:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("_arguments", "_columns", "_plain", "_row", "sql")

    def __init__(self, statement: Statement, dialect: Dialect, names: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if not compiled.positional:
            raise ValueError(f"{dialect.name} does not bind parameters by position")
        self.sql = compiled.string
        binds = compiled.binds
        missing = [n for n in compiled.positiontup or () if n not in names and binds[n].required]
        if missing:
            raise sa_exc.ArgumentError(f"no value for the parameters {', '.join(missing)}")
        # Per position: the parameter's name (None for a value fixed in the statement),
        # that value, and the column type's conversion to what the driver stores.
        self._arguments: tuple[tuple[str | None, Any, Convert], ...] = tuple(
            (
                name if name in names else None,
                binds[name].effective_value,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in compiled.positiontup or ()
        )
        columns = statement.exported_columns
        self._columns: tuple[Convert, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        self._plain = all(convert is None for convert in self._columns)
        row = namedtuple("Row", map(str, columns.keys()))  # type: ignore[misc]
        self._row: Callable[[Iterable[Any]], tuple[Any, ...]] = row._make

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The values to bind, in order, as the driver stores them."""
        values = []
        for name, fixed, convert in self._arguments:
            value = fixed if name is None else params[name]
            values.append(value if convert is None else convert(value))
        return values

    def rows(self, fetched: list[tuple[Any, ...]]) -> Rows:
        """The driver's rows as named tuples of Python values."""
        make = self._row
        converts = self._columns
        if self._plain:  # every column as the driver gives it (text: a history's rows)
            return Rows([make(row) for row in fetched])
        return Rows(
            [
                make(
                    [
                        value if c is None else c(value)
                        for c, value in zip(converts, row, strict=True)
                    ]
                )
                for row in fetched
            ]
        )


class PreparedStatements:
    """Runs prepared statements on one DBAPI connection of ``dialect``'s driver."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._prepared: dict[tuple[Statement, tuple[str, ...]], Prepared] = {}

    def prepared(self, statement: Statement, params: Mapping[str, Any]) -> Prepared:
        key = (statement, tuple(params))
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = Prepared(statement, self._dialect, key[1])
        return found

    def run(self, connection: Any, statement: Statement, params: Mapping[str, Any]) -> Rows:
        """``statement`` with ``params`` on ``connection`` (the driver's own).

        Raises what SQLAlchemy would: the driver's error wrapped, its
        ``connection_invalidated`` set when the driver says the connection is gone.
        """
        prepared = self.prepared(statement, params)
        arguments = prepared.arguments(params)
        cursor = None
        try:
            cursor = connection.cursor()
            cursor.execute(prepared.sql, arguments)
            fetched = cursor.fetchall() if cursor.description else []
        except Exception as error:
            dialect = self._dialect
            lost = isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                error, connection, cursor
            )
            raise sa_exc.DBAPIError.instance(
                prepared.sql,
                arguments,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            if cursor is not None:
                cursor.close()
        return prepared.rows(fetched)
