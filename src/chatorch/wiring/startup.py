"""How a start fails: one line that names the setting to fix."""

from collections.abc import Awaitable
from typing import TypeVar

from chatorch.domain.errors import ChatorchError

T = TypeVar("T")


class StartupError(Exception):
    """A backing service is misconfigured or unreachable; the message names the setting."""


async def connecting(setting: str, work: Awaitable[T]) -> T:
    """Await ``work``; turn any failure into a one-line StartupError naming ``setting``."""
    try:
        return await work
    except ChatorchError as error:
        raise StartupError(f"{setting}: {error.detail}") from error
    except Exception as error:  # a driver's own error type: say what it said
        raise StartupError(f"{setting}: {type(error).__name__}: {error}") from error
