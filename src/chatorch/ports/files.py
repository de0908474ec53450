"""Metadata of stored files; their bytes live in a blob store."""

from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import FileMeta


class FileRepository(Protocol):
    async def add_file(self, meta: FileMeta) -> None: ...

    async def get_file(self, file_id: UUID) -> FileMeta | None: ...
