"""ArtifactManager: files in. An upload becomes bytes in the blob store and a
``processing`` row; ``ingest`` later reads its text, cuts it in chunks and stores them,
making the file ``ready`` — or ``failed`` with the reason when it has no text to read.

Bytes are named by their owner and SHA-256 (``blob_key``), and written before the row
that points at them: an upload failing in between leaves bytes no row names, which the
next upload of the same bytes reuses, never a row without bytes. One owner holds the
same bytes once: uploading them again gives the file already there.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import structlog

from chatorch.domain.entities import FileChunk, FileMeta, FileStatus
from chatorch.domain.errors import BlobNotFound, EmptyFile, FileTooLarge, NotFound
from chatorch.ports.blobs import BlobStore
from chatorch.ports.store import Store, Transaction
from chatorch.services.chunking import chunk
from chatorch.services.extract import Unreadable, clean_name, extract, media_type_of
from chatorch.services.retrieval import Retriever

log = structlog.get_logger(__name__)

READ_PIECE = 1 << 20  # bytes of an upload read at a time
ERASE_BATCH = 200  # files read at a time when their owner is erased


class Upload(Protocol):
    """An uploaded file that can be read twice: once to hash, once to store (FastAPI's
    ``UploadFile``, spooled to a temporary file, is one)."""

    @property
    def filename(self) -> str | None: ...

    @property
    def content_type(self) -> str | None: ...

    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    file: FileMeta
    created: bool  # False: the owner already had these bytes, and this is that file


def blob_key(file: FileMeta) -> str:
    """Where a file's bytes are: per owner, so deleting one's file never takes another's."""
    return f"{file.owner_id}/{file.sha256}"


class ArtifactManager:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        *,
        max_bytes: int,
        retriever: Retriever | None = None,
    ) -> None:
        """``retriever``: indexes a file's chunks by meaning as it is read (its full
        text is indexed by the database with the chunks)."""
        self._store = store
        self._blobs = blobs
        self._retriever = retriever
        self.max_bytes = max_bytes  # CHATORCH_MAX_FILE_BYTES

    async def accept(self, owner_id: UUID, upload: Upload) -> Accepted:
        """Store an upload's bytes and its ``processing`` row; ``ingest`` reads it later.

        Raises:
            UnsupportedFileType: not a type chatorch reads (before a byte is read).
            FileTooLarge: over ``max_bytes`` (reading stops there).
            EmptyFile: no bytes at all.
        """
        name = clean_name(upload.filename)
        media_type = media_type_of(name, upload.content_type)
        size, sha256 = await self._measure(upload)
        async with self._store.transaction() as tx:
            known = await tx.files.find_file(owner_id, sha256)
        if known is not None:
            return Accepted(known, created=False)
        meta = FileMeta(
            owner_id=owner_id, name=name, media_type=media_type, size=size, sha256=sha256
        )
        await upload.seek(0)
        await self._blobs.put(blob_key(meta), _pieces(upload))
        async with self._store.transaction() as tx:
            stored = await tx.files.add_file(meta)  # or the twin a concurrent upload stored
        return Accepted(stored, created=stored.id == meta.id)

    async def _measure(self, upload: Upload) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        while piece := await upload.read(READ_PIECE):
            size += len(piece)
            if size > self.max_bytes:
                raise FileTooLarge(self.max_bytes)
            digest.update(piece)
        if size == 0:
            raise EmptyFile("the file is empty: there is nothing to read")
        return size, digest.hexdigest()

    async def ingest(self, file_id: UUID) -> FileMeta | None:
        """Read a ``processing`` file's text, chunk it and store the chunks, making it
        ``ready``; or make it ``failed`` with the reason. Chunks and status are written
        in one transaction. A file already settled (or gone) is left as it is, so a
        repeated or concurrent call changes nothing. Returns the file as it ends up.

        Raises:
            StoreUnavailable, BlobUnavailable: nothing was settled; try again later.
        """
        async with self._store.transaction() as tx:
            file = await tx.files.get_file(file_id)
        if file is None or file.status is not FileStatus.PROCESSING:
            return file
        chunks: Sequence[FileChunk] = ()
        error = None
        try:
            data = await self._blobs.get(blob_key(file))
            chunks = await asyncio.to_thread(_read, file, data)
        except BlobNotFound:
            error = "its bytes are missing from the blob store"
        except Unreadable as unreadable:
            error = str(unreadable)
        except Exception:  # a bug in reading one file must not leave it processing forever
            log.exception("file.unreadable", file_id=str(file.id), media_type=file.media_type)
            error = "chatorch failed reading it; the server log has the details"
        if error is None and self._retriever is not None:
            # Before the file is ready: a failure leaves it processing, to be read again.
            await self._retriever.index(file.owner_id, chunks)
        async with self._store.transaction() as tx:
            if error is None:
                await tx.files.mark_ready(file.id, chunks)
            else:
                await tx.files.mark_failed(file.id, error)
            settled = await tx.files.get_file(file.id)
        log.info("file.ingested", file_id=str(file.id), chunks=len(chunks), error=error)
        return settled

    async def give_up(self, file_id: UUID) -> None:
        """Make a file that could not be read on any try ``failed`` (the store or the
        blob store kept failing): it says so, rather than ``processing`` forever."""
        async with self._store.transaction() as tx:
            reason = "reading it failed on every try; delete it and upload it again"
            await tx.files.mark_failed(file_id, reason)

    async def get(self, owner_id: UUID, file_id: UUID) -> FileMeta:
        """The owner's file; ``NotFound`` for anyone else's, as for none."""
        async with self._store.transaction() as tx:
            return await _owned(tx, owner_id, file_id)

    async def list_files(
        self, owner_id: UUID, *, limit: int, before: UUID | None = None
    ) -> Sequence[FileMeta]:
        async with self._store.transaction() as tx:
            return await tx.files.list_files(owner_id, limit=limit, before=before)

    async def chunks(self, owner_id: UUID, file_id: UUID) -> Sequence[FileChunk]:
        async with self._store.transaction() as tx:
            await _owned(tx, owner_id, file_id)
            return await tx.files.list_chunks(file_id)

    async def content(self, owner_id: UUID, file_id: UUID) -> tuple[FileMeta, AsyncIterator[bytes]]:
        """The owner's file and its bytes, as they are read."""
        file = await self.get(owner_id, file_id)
        try:
            return file, await self._blobs.open(blob_key(file))
        except BlobNotFound:
            raise BlobNotFound(f"the bytes of file {file_id} are missing") from None

    async def delete(self, owner_id: UUID, file_id: UUID) -> None:
        """Delete the owner's file: its bytes, then its row with its chunks and chat
        links. In that order a failure halfway leaves a row a retry deletes, never
        bytes no row names."""
        file = await self.get(owner_id, file_id)
        await self._blobs.delete(blob_key(file))
        if self._retriever is not None:
            await self._retriever.forget(file.id)
        async with self._store.transaction() as tx:
            await tx.files.delete_file(file.id)

    async def erase_owner(self, owner_id: UUID) -> int:
        """Delete the bytes and vectors of every file of ``owner_id`` (whose rows go
        with the user): before the rows, so a failure halfway is finished by erasing
        again, and no byte of an erased user outlives its row. How many files."""
        erased, before = 0, None
        while True:
            async with self._store.transaction() as tx:
                files = await tx.files.list_files(owner_id, limit=ERASE_BATCH, before=before)
            for file in files:
                await self._blobs.delete(blob_key(file))
                if self._retriever is not None:
                    await self._retriever.forget(file.id)
            erased += len(files)
            if len(files) < ERASE_BATCH:
                return erased
            before = files[-1].id


async def _owned(tx: Transaction, owner_id: UUID, file_id: UUID) -> FileMeta:
    file = await tx.files.get_file(file_id)
    if file is None or file.owner_id != owner_id:
        raise NotFound(f"no file {file_id}")
    return file


async def _pieces(upload: Upload) -> AsyncIterator[bytes]:
    while piece := await upload.read(READ_PIECE):
        yield piece


def _read(file: FileMeta, data: bytes) -> list[FileChunk]:
    """Extract and chunk: CPU work, run on a worker thread."""
    chunks = chunk(file.id, extract(data, file.media_type))
    if not chunks:
        raise Unreadable("the file holds no text")
    return chunks
