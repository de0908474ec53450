"""``chatorch keys``: create, list and revoke API keys in the database."""

from typing import TYPE_CHECKING, Annotated

import typer

from chatorch.cli.common import fail, load_settings, with_store

if TYPE_CHECKING:
    from chatorch.domain.entities import ApiKey

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    user: Annotated[str, typer.Option(help="whose key; the user is created if new")],
    role: Annotated[str, typer.Option(help="user, operator or admin")] = "user",
    name: Annotated[str, typer.Option(help="a label to recognise the key")] = "",
    expires_days: Annotated[int | None, typer.Option(help="days until it expires")] = None,
) -> None:
    """Make an API key; it is printed alone on the last line, and shown only this once."""
    from datetime import timedelta

    from chatorch.domain.entities import AccessRole

    if role not in AccessRole._value2member_map_:
        fail(f"unknown role {role!r}; use user, operator or admin")
    expires = None if expires_days is None else timedelta(days=expires_days)

    async def make() -> tuple[str, str]:
        from chatorch.wiring import store_only

        async with store_only(load_settings()) as auth:
            key, stored = await auth.create_key(
                user_name=user, role=AccessRole(role), name=name, expires_in=expires
            )
            return key, f"key {stored.id} for {user} ({role}), prefix {stored.prefix}"

    key, summary = with_store(make)
    typer.echo(summary)
    typer.echo("Send it as: Authorization: Bearer <key>. It is not shown again.")
    typer.echo(key)


@app.command("list")
def list_keys() -> None:
    """List every key (never the key itself)."""

    async def rows() -> list[str]:
        from chatorch.wiring import store_only

        async with store_only(load_settings()) as auth:
            found = await auth.list_keys()
        return [
            f"{k.id}  {k.prefix}…  {user:<20} {k.role.value:<8} {_state(k)}" for k, user in found
        ]

    for row in with_store(rows):
        typer.echo(row)


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
