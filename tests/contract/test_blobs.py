"""The BlobStore contract: bytes by key, whole or streamed, all or nothing, on every
adapter (the file system's, today)."""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatorch.adapters.blobs.files import connect
from chatorch.domain.errors import BlobNotFound
from chatorch.ports.blobs import BlobStore

MB = 1 << 20


@pytest.fixture(params=[pytest.param("file", id="file")])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    store = connect(f"file:{tmp_path / 'not' / 'yet' / 'files'}")
    try:
        yield store
    finally:
        await store.close()


async def _stream(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece


async def _read(blobs: BlobStore, key: str) -> bytes:
    return b"".join([piece async for piece in await blobs.open(key)])


class TestPutAndGet:
    async def test_bytes_come_back_whole_and_streamed(self, blobs: BlobStore) -> None:
        assert await blobs.put("ada/one", b"hello") == 5
        assert await blobs.get("ada/one") == b"hello"
        assert await _read(blobs, "ada/one") == b"hello"

    async def test_a_stream_is_stored_as_it_comes(self, blobs: BlobStore) -> None:
        pieces = [os.urandom(MB) for _ in range(5)] + [b"tail"]
        assert await blobs.put("ada/big", _stream(*pieces)) == 5 * MB + 4
        whole = b"".join(pieces)
        assert hashlib.sha256(await blobs.get("ada/big")).digest() == hashlib.sha256(whole).digest()
        assert await _read(blobs, "ada/big") == whole

    async def test_a_put_replaces_what_was_there(self, blobs: BlobStore) -> None:
        await blobs.put("key", b"old")
        await blobs.put("key", _stream(b"n", b"ew"))
        assert await blobs.get("key") == b"new"

    async def test_empty_bytes_are_bytes(self, blobs: BlobStore) -> None:
        assert await blobs.put("empty", b"") == 0
        assert await blobs.get("empty") == b""

    async def test_keys_are_apart(self, blobs: BlobStore) -> None:
        await blobs.put("ada/x", b"ada's")
        await blobs.put("bob/x", b"bob's")
        await blobs.put("x", b"top")
        assert [await blobs.get(k) for k in ("ada/x", "bob/x", "x")] == [b"ada's", b"bob's", b"top"]


class TestAllOrNothing:
    async def test_a_write_that_fails_leaves_nothing(self, blobs: BlobStore) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield b"half of it"
            raise ConnectionResetError("the client left")

        with pytest.raises(ConnectionResetError):
            await blobs.put("ada/half", broken())
        with pytest.raises(BlobNotFound):
            await blobs.get("ada/half")

    async def test_a_write_that_fails_keeps_the_old_bytes(self, blobs: BlobStore) -> None:
        await blobs.put("ada/doc", b"version 1")

        async def broken() -> AsyncIterator[bytes]:
            yield b"version 2, partly"
            raise ConnectionResetError("the client left")

        with pytest.raises(ConnectionResetError):
            await blobs.put("ada/doc", broken())
        assert await blobs.get("ada/doc") == b"version 1"

    async def test_a_cancelled_write_leaves_nothing(self, blobs: BlobStore) -> None:
        started = asyncio.Event()

        async def endless() -> AsyncIterator[bytes]:
            while True:
                started.set()
                yield b"x" * 1024
                await asyncio.sleep(0.01)

        task = asyncio.create_task(blobs.put("ada/endless", endless()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(BlobNotFound):
            await blobs.get("ada/endless")

    async def test_a_reader_sees_old_or_new_never_part(self, blobs: BlobStore) -> None:
        old, new = b"o" * MB, b"n" * (3 * MB)
        await blobs.put("doc", old)
        writing = asyncio.create_task(
            blobs.put("doc", _stream(*[new[i : i + 4096] for i in range(0, len(new), 4096)]))
        )
        seen = set()
        while not writing.done():
            seen.add(await blobs.get("doc"))
            await asyncio.sleep(0)
        await writing
        seen.add(await blobs.get("doc"))
        assert seen <= {old, new}
        assert new in seen


class TestMissingAndDeleted:
    async def test_nothing_under_a_key_is_not_found(self, blobs: BlobStore) -> None:
        with pytest.raises(BlobNotFound):
            await blobs.get("nobody/nothing")
        with pytest.raises(BlobNotFound):
            await blobs.open("nobody/nothing")

    async def test_delete_says_whether_there_was_something(self, blobs: BlobStore) -> None:
        await blobs.put("ada/gone", b"bytes")
        assert await blobs.delete("ada/gone")
        assert not await blobs.delete("ada/gone")
        assert not await blobs.delete("never/was")
        with pytest.raises(BlobNotFound):
            await blobs.get("ada/gone")

    async def test_a_key_under_a_blob_is_not_found(self, blobs: BlobStore) -> None:
        await blobs.put("ada", b"a blob, not a folder")
        with pytest.raises(BlobNotFound):
            await blobs.get("ada/inside")
        assert not await blobs.delete("ada/inside")


class TestKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "",
            "/abs",
            "a//b",
            "../escape",
            "a/../b",
            ".hidden",
            "a/.tmp",
            "a\\b",
            "a b",
            "é",
            "x" * 513,
        ],
    )
    async def test_what_is_not_a_key_is_refused(self, blobs: BlobStore, key: str) -> None:
        with pytest.raises(ValueError, match="not a blob key"):
            await blobs.put(key, b"x")
        with pytest.raises(ValueError, match="not a blob key"):
            await blobs.get(key)

    async def test_owner_and_digest_keys_are_keys(self, blobs: BlobStore) -> None:
        key = f"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/{'ab' * 32}"
        await blobs.put(key, b"bytes")
        assert await blobs.get(key) == b"bytes"


class TestOperations:
    async def test_ping_answers_and_describe_names_the_backend(self, blobs: BlobStore) -> None:
        await blobs.ping()
        assert "backend" in blobs.describe()
