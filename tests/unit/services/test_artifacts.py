"""The ArtifactManager on a real SQLite store and blob folder: uploads stored at once,
read once, shared by no one."""

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.datastructures import Headers, UploadFile

from chatorch.adapters.blobs.files import FileBlobStore
from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.domain.entities import FileStatus, User
from chatorch.domain.errors import EmptyFile, FileTooLarge, NotFound, UnsupportedFileType
from chatorch.services.artifacts import ArtifactManager, blob_key
from tests.fixtures.pdf import pdf

LIMIT = 100_000  # bytes


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/files.db"
    upgrade(url)
    adapter = await connect(url)
    yield adapter
    await adapter.close()


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def artifacts(store: SqlStore, blobs: FileBlobStore) -> ArtifactManager:
    return ArtifactManager(store, blobs, max_bytes=LIMIT)


async def _user(store: SqlStore, name: str = "ada") -> User:
    async with store.transaction() as tx:
        return await tx.users.ensure_user(name)


def upload(data: bytes, name: str = "notes.txt", media_type: str = "text/plain") -> UploadFile:
    return UploadFile(
        io.BytesIO(data), filename=name, headers=Headers({"content-type": media_type})
    )


class TestAccept:
    async def test_bytes_and_a_processing_row_are_stored(
        self, artifacts: ArtifactManager, blobs: FileBlobStore, store: SqlStore
    ) -> None:
        ada = await _user(store)
        accepted = await artifacts.accept(ada.id, upload(b"hello", "C:\\docs\\hi.md"))
        file = accepted.file
        assert accepted.created
        assert (file.name, file.media_type, file.size) == ("hi.md", "text/markdown", 5)
        assert file.status is FileStatus.PROCESSING
        assert await blobs.get(blob_key(file)) == b"hello"
        assert await artifacts.get(ada.id, file.id) == file

    async def test_the_same_bytes_again_are_the_same_file(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada, bob = await _user(store, "ada"), await _user(store, "bob")
        first = await artifacts.accept(ada.id, upload(b"same", "a.txt"))
        again = await artifacts.accept(ada.id, upload(b"same", "b.txt"))
        bobs = await artifacts.accept(bob.id, upload(b"same", "a.txt"))
        assert not again.created
        assert again.file == first.file
        assert bobs.created
        assert bobs.file.id != first.file.id

    @pytest.mark.parametrize(
        ("data", "refused"),
        [(b"", EmptyFile), (b"x" * (LIMIT + 1), FileTooLarge)],
        ids=["empty", "too-large"],
    )
    async def test_an_empty_or_too_large_file_stores_nothing(
        self,
        artifacts: ArtifactManager,
        store: SqlStore,
        tmp_path: Path,
        data: bytes,
        refused: type[Exception],
    ) -> None:
        ada = await _user(store)
        with pytest.raises(refused):
            await artifacts.accept(ada.id, upload(data))
        assert list(await artifacts.list_files(ada.id, limit=10)) == []
        assert not (tmp_path / "blobs").exists()

    async def test_a_file_at_the_limit_is_taken(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        accepted = await artifacts.accept(ada.id, upload(b"x" * LIMIT))
        assert accepted.file.size == LIMIT

    async def test_an_unreadable_type_is_refused_before_reading(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        image = upload(b"\x89PNG", "photo.png", "image/png")
        with pytest.raises(UnsupportedFileType):
            await artifacts.accept(ada.id, image)
        assert await image.read() == b"\x89PNG"  # not a byte was read


class TestIngest:
    async def test_a_readable_file_becomes_ready_with_its_chunks(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        data = pdf("Page one text.", "Page two holds the code ZX-4471.")
        file = (await artifacts.accept(ada.id, upload(data, "r.pdf", "application/pdf"))).file
        ready = await artifacts.ingest(file.id)
        assert ready is not None
        assert ready.status is FileStatus.READY
        chunks = await artifacts.chunks(ada.id, file.id)
        assert [(c.number, c.page, c.text) for c in chunks] == [
            (0, 1, "Page one text."),
            (1, 2, "Page two holds the code ZX-4471."),
        ]

    async def test_an_unreadable_file_fails_with_the_reason(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        broken = upload(b"%PDF-1.7\n1 0 obj <<", "broken.pdf", "application/pdf")
        file = (await artifacts.accept(ada.id, broken)).file
        failed = await artifacts.ingest(file.id)
        assert failed is not None
        assert failed.status is FileStatus.FAILED
        assert failed.error is not None
        assert failed.error.startswith("the PDF could not be read")
        assert list(await artifacts.chunks(ada.id, file.id)) == []

    async def test_bytes_gone_from_the_blob_store_fail_the_file(
        self, artifacts: ArtifactManager, blobs: FileBlobStore, store: SqlStore
    ) -> None:
        ada = await _user(store)
        file = (await artifacts.accept(ada.id, upload(b"text"))).file
        await blobs.delete(blob_key(file))
        failed = await artifacts.ingest(file.id)
        assert failed is not None
        assert failed.error == "its bytes are missing from the blob store"

    async def test_ingesting_again_or_at_once_changes_nothing(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        text = "\n\n".join(f"Paragraph {n} " + "word " * 80 for n in range(20))
        file = (await artifacts.accept(ada.id, upload(text.encode()))).file
        settled = await asyncio.gather(*(artifacts.ingest(file.id) for _ in range(3)))
        chunks = await artifacts.chunks(ada.id, file.id)
        assert await artifacts.ingest(file.id) == settled[0]
        assert {s.status if s else None for s in settled} == {FileStatus.READY}
        assert await artifacts.chunks(ada.id, file.id) == chunks
        assert [c.number for c in chunks] == list(range(len(chunks)))

    async def test_a_file_that_is_gone_is_nothing_to_ingest(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada = await _user(store)
        file = (await artifacts.accept(ada.id, upload(b"text"))).file
        await artifacts.delete(ada.id, file.id)
        assert await artifacts.ingest(file.id) is None


class TestOwnership:
    async def test_another_users_file_is_not_found_for_any_use(
        self, artifacts: ArtifactManager, store: SqlStore
    ) -> None:
        ada, bob = await _user(store, "ada"), await _user(store, "bob")
        file = (await artifacts.accept(ada.id, upload(b"mine"))).file
        for use in (artifacts.get, artifacts.content, artifacts.chunks, artifacts.delete):
            with pytest.raises(NotFound):
                await use(bob.id, file.id)
        assert list(await artifacts.list_files(bob.id, limit=10)) == []
        assert await artifacts.get(ada.id, file.id) == file

    async def test_delete_removes_the_bytes_and_the_row(
        self, artifacts: ArtifactManager, blobs: FileBlobStore, store: SqlStore
    ) -> None:
        ada = await _user(store)
        file = (await artifacts.accept(ada.id, upload(b"short lived"))).file
        await artifacts.ingest(file.id)
        await artifacts.delete(ada.id, file.id)
        assert not await blobs.delete(blob_key(file))  # already gone
        with pytest.raises(NotFound):
            await artifacts.get(ada.id, file.id)
        async with store.transaction() as tx:
            assert list(await tx.files.list_chunks(file.id)) == []
