"""``chatorch migrate``: the database schema up to the latest revision, or down."""

from typing import Annotated

import typer

from chatorch.cli.common import fail, load_settings


def migrate(
    downgrade: Annotated[
        str | None, typer.Option(help="migrate down to this revision ('base' drops all)")
    ] = None,
) -> None:
    """Migrate the database at CHATORCH_DATABASE_URL up to the latest schema (or down)."""
    from chatorch.wiring import StartupError, migrate_database

    settings = load_settings()
    try:
        revision = migrate_database(settings.database_url, downgrade=downgrade)
    except StartupError as error:
        fail(str(error))
    typer.echo(f"database at revision {revision or 'base (empty)'}")
