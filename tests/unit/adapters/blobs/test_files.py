"""The file system's blob store: where a ``file:`` URL puts bytes, and what it leaves."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatorch.adapters.blobs.files import connect
from chatorch.domain.errors import BlobUnavailable


class TestUrls:
    @pytest.mark.parametrize(
        ("url", "folder"),
        [
            ("file:./data/files", "data/files"),
            ("file:data/files", "data/files"),
            ("file:///srv/chatorch/files", "/srv/chatorch/files"),
            ("file://localhost/srv/files", "/srv/files"),
            ("file:./my%20files", "my files"),
        ],
    )
    async def test_a_file_url_names_a_folder(
        self, url: str, folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        store = connect(url)
        monkeypatch.chdir("/")  # the folder was fixed when the store was made
        if folder.startswith("/"):
            return  # not written to: outside the test's folder
        await store.put("k", b"bytes")
        assert (tmp_path / folder / "k").read_bytes() == b"bytes"

    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("s3://bucket", "unsupported blob store 's3'"),
            ("./data/files", "use file:<folder>"),
            ("file://server/share", "not a folder on this machine"),
            ("file:", "names no folder"),
        ],
    )
    def test_anything_else_is_refused_saying_what_to_write(self, url: str, says: str) -> None:
        with pytest.raises(ValueError, match=says):
            connect(url)


class TestOnDisk:
    async def test_the_folder_is_made_by_the_first_write_only(self, tmp_path: Path) -> None:
        root = tmp_path / "files"
        store = connect(f"file:{root}")
        assert not root.exists()
        await store.put("ada/one", b"1")
        assert (root / "ada" / "one").read_bytes() == b"1"

    async def test_a_failed_write_leaves_no_temporary_file(self, tmp_path: Path) -> None:
        store = connect(f"file:{tmp_path}")

        async def broken() -> AsyncIterator[bytes]:
            yield b"part"
            raise ConnectionResetError

        with pytest.raises(ConnectionResetError):
            await store.put("ada/doc", broken())
        assert [p.name for p in (tmp_path / "ada").iterdir()] == []

    async def test_a_folder_that_cannot_be_written_is_unavailable(self, tmp_path: Path) -> None:
        (tmp_path / "blocked").write_bytes(b"a file where the folder should be")
        store = connect(f"file:{tmp_path / 'blocked'}")
        with pytest.raises(BlobUnavailable, match="cannot store ada/doc"):
            await store.put("ada/doc", b"bytes")
        with pytest.raises(BlobUnavailable):
            await store.ping()
