"""What every command shares: settings, one-line failures, running a coroutine, help."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from chatorch.settings import Settings

T = TypeVar("T")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``, under the command's options (None:
    not given); a bad value ends the command in one line naming its setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        fail("invalid settings: " + "; ".join(_explain(e) for e in error.errors()))


def _explain(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    setting = f"CHATORCH_{str(error['loc'][0]).upper()}" if error["loc"] else "CHATORCH_*"
    return message if setting in message else f"{setting}: {message}"


def fail(message: str) -> NoReturn:
    """End the command with one line on stderr and exit code 1: what an operator reads
    when a start fails, so no traceback and nothing before it."""
    typer.echo(f"chatorch: {message}", err=True)
    raise typer.Exit(code=1)


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    except ImportError:  # pragma: no cover - uvloop missing on this platform
        asyncio.run(main)


def with_store(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a store job (``keys``, ``secrets``), turning expected failures into one line."""
    from chatorch.domain.errors import ChatorchError
    from chatorch.wiring import StartupError

    try:
        return asyncio.run(work())
    except (StartupError, ChatorchError) as error:
        fail(getattr(error, "detail", str(error)))


# What help shows for an option's value, by its type: click's words, not typer's <str>.
_VALUE_NAMES = {str: "TEXT", int: "INTEGER", float: "NUMBER"}


class PlainHelp(TyperGroup):
    """The root command group: every help page under it names an option's value as
    ``TEXT`` or ``INTEGER`` (or the option's own ``metavar``), a choice as
    ``[user|operator|admin]``, and a flag (``--help`` too) by nothing at all."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _plain(params)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_tree(command, ctx)
        return command


def _plain_tree(command: Any, ctx: Any) -> None:
    help_option = command.get_help_option(ctx)
    _plain([*command.params, *([help_option] if help_option is not None else [])])
    for sub in getattr(command, "commands", {}).values():
        _plain_tree(sub, ctx)


def _plain(params: list[Any]) -> None:
    for param in params:
        if not hasattr(param, "is_flag"):  # an argument: named by its name, typed here
            value = _VALUE_NAMES.get(param.type_descriptor.annotation, "VALUE")
            param.display_type_rich = lambda ctx, value=value: value
            continue
        if param.metavar is not None:
            continue  # named already
        if param.is_flag:
            param.metavar = ""
            continue
        descriptor = param.type_descriptor
        if descriptor.is_choice:
            param.metavar = "[" + "|".join(str(c) for c in descriptor.choices or ()) + "]"
        else:
            param.metavar = _VALUE_NAMES.get(descriptor.annotation, "VALUE")
