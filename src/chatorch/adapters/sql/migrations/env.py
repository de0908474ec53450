"""Alembic's entry point, for the async engines chatorch uses.

``chatorch.adapters.sql.migrate`` builds the Alembic config in code (no alembic.ini) and
sets ``sqlalchemy.url``; a caller that already holds a synchronous connection (a test
comparing schemas, say) may pass it as ``config.attributes["connection"]`` instead.
"""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chatorch.adapters.sql.models import Base
from chatorch.adapters.sql.search import described_by_models

config = context.config
target_metadata = Base.metadata


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # The full-text index is the migrations' alone: no model to compare it with.
        include_name=described_by_models,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=options.pop("dialect_name") == "sqlite",
        **options,
    )


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    _configure(
        url=url,
        dialect_name=url.split(":", 1)[0].split("+", 1)[0],
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection, dialect_name=connection.dialect.name)
    with context.begin_transaction():
        context.run_migrations()


def _transactional_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite run each migration inside BEGIN … COMMIT.

    The sqlite3 driver never begins a transaction before DDL, so a migration failing
    halfway would leave half a schema; SQLAlchemy emits BEGIN itself instead.
    """

    def no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    event.listen(engine.sync_engine, "connect", no_driver_begin)
    event.listen(engine.sync_engine, "begin", begin)


async def run_async_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = create_async_engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        _transactional_sqlite(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
