"""``chatorch keys``: create, list and revoke API keys in the database."""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from chatorch.cli.common import fail, load_settings, with_store

if TYPE_CHECKING:
    from chatorch.domain.entities import ApiKey

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

TABLE_WIDTH = 130  # characters at least: ids are 36, and every column fits on one line


class Role(StrEnum):
    """``AccessRole``'s values, as the command line's choices (the domain loads later)."""

    USER = "user"
    OPERATOR = "operator"
    ADMIN = "admin"


@app.command("create")
def create(
    user: Annotated[str, typer.Option(help="whose key; the user is created if new")],
    role: Annotated[
        Role, typer.Option(help="user: own chats; operator: also operations; admin: all")
    ] = Role.USER,
    name: Annotated[str, typer.Option(help="a label to recognise the key")] = "",
    expires_days: Annotated[int | None, typer.Option(help="days until it expires")] = None,
) -> None:
    """Make an API key; it is printed alone on the last line, and shown only this once."""
    from datetime import timedelta

    from chatorch.domain.entities import AccessRole

    expires = None if expires_days is None else timedelta(days=expires_days)

    async def make() -> tuple[str, str]:
        from chatorch.wiring import store_only

        async with store_only(load_settings()) as auth:
            key, stored = await auth.create_key(
                user_name=user, role=AccessRole(role.value), name=name, expires_in=expires
            )
            return key, f"key {stored.id} for {user} ({role.value}), prefix {stored.prefix}"

    key, summary = with_store(make)
    typer.echo(summary)
    typer.echo("Send it as: Authorization: Bearer <key>. It is not shown again.")
    typer.echo(key)


@app.command("list")
def list_keys() -> None:
    """List every key, newest first (never the key itself)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    async def rows() -> "list[tuple[ApiKey, str]]":
        from chatorch.wiring import store_only

        async with store_only(load_settings()) as auth:
            return await auth.list_keys()

    found = with_store(rows)
    console = Console(highlight=False)
    if not found:
        console.print("no keys: make one with chatorch keys create --user NAME")
        return
    # A line per key, even on a narrow terminal (it wraps the line rather than the cells).
    console.width = max(console.width, TABLE_WIDTH) if console.is_terminal else TABLE_WIDTH
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    for column in ("id", "prefix", "user", "role", "name", "state"):
        # Whole ids (``keys revoke`` takes them) and words: only names may wrap.
        table.add_column(column, no_wrap=column not in ("user", "name"), overflow="fold")
    for key, user in found:
        table.add_row(str(key.id), f"{key.prefix}…", user, key.role.value, key.name, _state(key))
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (see keys list)")],
) -> None:
    """Revoke a key at once; requests with it get 401 from then on."""
    from uuid import UUID

    try:
        parsed = UUID(key_id)
    except ValueError:
        fail(f"{key_id!r} is not a key id")

    async def work() -> str:
        from chatorch.wiring import store_only

        async with store_only(load_settings()) as auth:
            revoked = await auth.revoke_key(parsed)
        return f"revoked {revoked.prefix}…"

    typer.echo(with_store(work))


def _state(key: "ApiKey") -> str:
    if key.revoked_at is not None:
        return "revoked"
    return f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "active"
