"""``chatorch secrets``: secrets stored encrypted with CHATORCH_SECRET_KEYS."""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from chatorch.cli.common import load_settings, with_store

if TYPE_CHECKING:
    from chatorch.services.secrets import Vault

app = typer.Typer(help="Secrets stored encrypted (CHATORCH_SECRET_KEYS).", no_args_is_help=True)


@app.command("new-key")
def new_key() -> None:
    """Print a fresh Fernet key for CHATORCH_SECRET_KEYS."""
    from chatorch.services.secrets import new_key as fresh

    typer.echo(fresh())


@app.command("set")
def put(name: Annotated[str, typer.Argument(help="e.g. openai_api_key")]) -> None:
    """Store a secret read from standard input (so it stays out of shell history)."""
    value = sys.stdin.read().strip()

    async def work() -> str:
        async with _vault() as vault:
            await vault.put(name, value)
        return f"stored {name}"

    typer.echo(with_store(work))


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every secret with the first key of CHATORCH_SECRET_KEYS."""

    async def work() -> str:
        async with _vault() as vault:
            count = await vault.rotate()
        return f"re-encrypted {count} secrets with the first key"

    typer.echo(with_store(work))


@asynccontextmanager
async def _vault() -> AsyncIterator["Vault"]:
    from chatorch.wiring import StartupError, store_only, vault_for

    settings = load_settings()
    async with store_only(settings) as auth:
        vault = vault_for(settings, auth.store)
        if vault is None:
            raise StartupError("CHATORCH_SECRET_KEYS is not set: nothing can be encrypted")
        yield vault
