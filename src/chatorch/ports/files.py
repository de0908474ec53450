"""Uploaded files: their metadata, the chunks of their text, and the chats they are
attached to. Their bytes live in a blob store (``ports/blobs.py``)."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import FileChunk, FileMeta


class FileRepository(Protocol):
    async def add_file(self, meta: FileMeta) -> FileMeta:
        """Store ``meta``; return it, or the file its owner already has with the same
        SHA-256 (one owner holds the same bytes once, however many upload them at once)."""
        ...

    async def get_file(self, file_id: UUID) -> FileMeta | None: ...

    async def find_file(self, owner_id: UUID, sha256: str) -> FileMeta | None:
        """The owner's file with these bytes, if they have one."""
        ...

    async def list_files(
        self, owner_id: UUID, *, limit: int, before: UUID | None = None
    ) -> Sequence[FileMeta]:
        """The owner's files, newest first; ``before``: only those older than that id."""
        ...

    async def delete_file(self, file_id: UUID) -> bool:
        """Delete a file with its chunks and chat links; False when there was none."""
        ...

    async def mark_ready(self, file_id: UUID, chunks: Sequence[FileChunk]) -> bool:
        """Store the chunks of a ``processing`` file and make it ``ready``, at once.

        False, and nothing written, when the file is gone or no longer ``processing``
        (someone else finished it first).
        """
        ...

    async def mark_failed(self, file_id: UUID, error: str) -> bool:
        """Make a ``processing`` file ``failed`` with the reason; False as ``mark_ready``."""
        ...

    async def processing(self, *, limit: int, after: UUID | None = None) -> Sequence[UUID]:
        """The ids of files still ``processing`` (not yet read), by id, after ``after``."""
        ...

    async def list_chunks(self, file_id: UUID) -> Sequence[FileChunk]:
        """The file's chunks in reading order."""
        ...

    async def attach_file(self, chat_id: UUID, file_id: UUID) -> bool:
        """Attach a file to a chat; False when it already was."""
        ...

    async def chat_files(self, chat_id: UUID) -> Sequence[FileMeta]:
        """The files attached to a chat, oldest first."""
        ...
