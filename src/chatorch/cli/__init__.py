"""Command line (typer): ``chatorch serve | gateway | worker | status | migrate | chat |
keys | secrets | bots | version``.

One module per command group; this one holds the ``app`` the console script runs and
registers them. Heavy modules (the app, drivers, SDKs) load inside the commands that use
them, so ``chatorch version`` and ``chatorch chat`` start quickly: a module here imports
at its top only typer, pydantic and ``chatorch.settings``. The package may import
``chatorch.wiring`` (inside commands), never an adapter.
"""

from typing import Annotated

import typer

from chatorch import __version__
from chatorch.cli import backup, bots, chat, doctor, keys, migrate, secrets, serve, status
from chatorch.cli.common import PlainHelp

app = typer.Typer(
    name="chatorch",
    help="Conversational-AI orchestration: any channel, Think → Act → Respond, streamed.",
    no_args_is_help=True,
    add_completion=False,
    cls=PlainHelp,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command inherits it
)


def _show_version(shown: bool) -> None:
    if shown:
        typer.echo(f"chatorch {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Conversational-AI orchestration: any channel, Think → Act → Respond, streamed."""


app.command()(serve.serve)
app.command()(serve.gateway)
app.command()(serve.worker)
app.command()(status.status)
app.command()(doctor.doctor)
app.add_typer(keys.app, name="keys")
app.add_typer(secrets.app, name="secrets")
app.add_typer(bots.app, name="bots")
app.command()(migrate.migrate)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(chat.chat)


@app.command()
def version() -> None:
    """Print chatorch's version."""
    typer.echo(__version__)
