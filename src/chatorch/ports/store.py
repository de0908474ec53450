"""Store: one unit of work over every aggregate's repository.

A transaction hands out one repository per aggregate (``ports/chats.py``,
``users.py``, ``secrets.py``, ``work.py``, ``files.py``, ``bots.py``); what they write
commits or rolls back together.
"""

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from chatorch.ports.bots import BotRepository
from chatorch.ports.chats import ChatRepository
from chatorch.ports.files import FileRepository
from chatorch.ports.prompts import PromptRepository
from chatorch.ports.search import SearchIndex
from chatorch.ports.secrets import SecretRepository
from chatorch.ports.summaries import SummaryRepository
from chatorch.ports.threads import ThreadRepository
from chatorch.ports.users import UserRepository
from chatorch.ports.work import WorkRepository


class Transaction(Protocol):
    """The repositories of one unit of work, committed or rolled back as a whole."""

    @property
    def chats(self) -> ChatRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def secrets(self) -> SecretRepository: ...

    @property
    def work(self) -> WorkRepository: ...

    @property
    def files(self) -> FileRepository: ...

    @property
    def bots(self) -> BotRepository: ...

    @property
    def prompts(self) -> PromptRepository: ...

    @property
    def search(self) -> SearchIndex: ...

    @property
    def summaries(self) -> SummaryRepository: ...

    @property
    def threads(self) -> ThreadRepository: ...


class Store(Protocol):
    def transaction(
        self, *, durable: bool = True, atomic: bool = True
    ) -> AbstractAsyncContextManager[Transaction]:
        """Open a unit of work: commit when the block ends, roll back if it raises.

        The block ends once what it wrote is on disk. ``durable=False`` lets it end as
        soon as the commit is made, for a write that only needs to survive a crash of
        this process, not of the machine; the next durable commit covers it.
        ``atomic=False`` is for a block of one write, or of reads that need no common
        snapshot: each statement then commits on its own, and a server-side database
        saves the round trips of ``BEGIN`` and ``COMMIT``.

        Raises:
            StoreUnavailable: the database did not answer.
        """
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the database answers."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What a readiness probe shows: the backend, never credentials."""
        ...
