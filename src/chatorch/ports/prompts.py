"""Prompt templates as stored: every version of every name, never changed once written.

Version 1 of a built-in name (``system``, ``summary``) is chatorch's own text and is not
stored; the first stored version of any name is 2, each next one the highest plus one.
"""

from collections.abc import Sequence
from typing import Protocol

from chatorch.domain.entities import PromptVersion


class PromptRepository(Protocol):
    async def add_version(self, name: str, template: str) -> PromptVersion:
        """Store ``template`` as the next version of ``name`` (2 when it has none).

        Writers racing on one name each get a version of their own: a taken number is
        tried again with the next, never an error. A name is at most 64 characters.
        """
        ...

    async def current(self, name: str) -> PromptVersion | None:
        """The highest stored version of ``name``; None when it has none."""
        ...

    async def versions(self, name: str) -> Sequence[PromptVersion]:
        """Every stored version of ``name``, newest first."""
        ...

    async def latest(self) -> Sequence[PromptVersion]:
        """The highest stored version of every name, by name."""
        ...

    async def stamp(self) -> str:
        """A value that changes whenever a version is added: comparing it with the one
        read before tells whether anything must be read again."""
        ...
