"""What every command shares: settings, one-line failures, running a coroutine."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

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
