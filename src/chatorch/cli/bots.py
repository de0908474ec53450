"""``chatorch bots``: create, list and delete bots in the database.

Credentials come as JSON from a file or standard input, never on the command line, so
they stay out of shell history and process lists; they are stored encrypted with
CHATORCH_SECRET_KEYS.
"""

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chatorch.cli.common import fail, load_settings, with_store

if TYPE_CHECKING:
    from chatorch.services.bots import BotManager
    from chatorch.settings import Settings

app = typer.Typer(
    help="Bots on Telegram, Slack, Discord, WhatsApp, Messenger.", no_args_is_help=True
)


@app.command("create")
def create(
    platform: Annotated[str, typer.Option(help="telegram, slack, discord, whatsapp or messenger")],
    name: Annotated[str, typer.Option(help="a name to recognise the bot")],
    credentials_file: Annotated[
        str, typer.Option(help="a JSON object of the platform's credentials; - reads stdin")
    ],
    llm: Annotated[str | None, typer.Option(help="its own chain, e.g. openai:gpt-4o")] = None,
    tools: Annotated[str | None, typer.Option(help="its tools, comma-separated")] = None,
) -> None:
    """Add a bot; print its id and the webhook URL its platform must call."""
    credentials = _read_credentials(credentials_file)
    tool_names = None if tools is None else [t.strip() for t in tools.split(",") if t.strip()]

    async def work() -> list[str]:
        async with _manager() as (bots, owner_id, settings):
            bot = await bots.create(
                owner_id=owner_id,
                platform=platform,
                name=name,
                credentials=credentials,
                llm=llm,
                tools=tool_names,
            )
        return [f"bot {bot.id} ({bot.platform.value}, {bot.name})", _url(bot.id, settings)]

    summary, url = with_store(work)
    typer.echo(summary)
    typer.echo(f"webhook_url: {url}")


@app.command("list")
def list_bots() -> None:
    """List every bot, newest first (never its credentials)."""

    async def rows() -> list[str]:
        async with _manager() as (bots, _, settings):
            found = await bots.list_bots()
        return [f"{b.id}  {b.platform.value:<9} {b.name:<24} {_url(b.id, settings)}" for b in found]

    for row in with_store(rows):
        typer.echo(row)


@app.command("delete")
def delete(bot_id: Annotated[str, typer.Argument(help="the bot's id (see bots list)")]) -> None:
    """Delete a bot; its platform's webhook calls are refused from then on."""
    parsed = _bot_id(bot_id)

    async def work() -> str:
        async with _manager() as (bots, _, _settings):
            gone = await bots.delete(parsed)
        return f"deleted bot {gone.id} ({gone.platform.value}, {gone.name})"

    typer.echo(with_store(work))


@app.command("register")
def register(bot_id: Annotated[str, typer.Argument(help="the bot's id (see bots list)")]) -> None:
    """Point the platform at the bot's webhook_url (Telegram: setWebhook, with the secret
    token). Needs CHATORCH_PUBLIC_URL: platforms call an absolute HTTPS address."""
    parsed = _bot_id(bot_id)

    async def work() -> str:
        from chatorch.domain.errors import NotConfigured
        from chatorch.wiring.channels import channel_maker

        async with _manager() as (bots, _, settings):
            if settings.public_url is None:
                raise NotConfigured(
                    "set CHATORCH_PUBLIC_URL to the HTTPS address the platform reaches"
                    " chatorch at, e.g. https://bots.example.com"
                )
            bot = await bots.get(parsed)
            url = _url(bot.id, settings)
            channel = channel_maker(settings)(bot, await bots.credentials(parsed))
            try:
                await channel.register(url)
            finally:
                await channel.close()
        return f"{bot.platform.value} delivers bot {bot.id}'s messages to {url}"

    typer.echo(with_store(work))


def _bot_id(given: str) -> Any:
    from uuid import UUID

    try:
        return UUID(given)
    except ValueError:
        fail(f"{given!r} is not a bot id")


def _read_credentials(source: str) -> Any:
    """The JSON object in ``source`` (a file, or ``-`` for standard input)."""
    try:
        text = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        fail(f"cannot read the credentials file: {error.strerror or error}")
    try:
        return json.loads(text)
    except ValueError as error:  # say where, never what: the text is a secret
        fail(f"the credentials are not JSON (line {getattr(error, 'lineno', '?')})")


def _url(bot_id: Any, settings: "Settings") -> str:
    from chatorch.services.bots import webhook_url

    return webhook_url(bot_id, settings.public_url)


@asynccontextmanager
async def _manager() -> AsyncIterator[tuple["BotManager", Any, "Settings"]]:
    """The bot manager on the migrated store, the local user (who owns what the command
    line makes) and the settings."""
    from chatorch.services.bots import BotManager
    from chatorch.wiring import store_only, vault_for
    from chatorch.wiring.store import LOCAL_USER

    settings = load_settings()
    async with store_only(settings) as auth:
        async with auth.store.transaction() as tx:
            owner = await tx.users.ensure_user(LOCAL_USER)
        yield BotManager(auth.store, vault_for(settings, auth.store)), owner.id, settings
