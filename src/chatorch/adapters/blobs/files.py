"""``BlobStore`` in a folder of the local file system (``file:./data/files``).

A key is a path under the folder. A write goes to a hidden temporary file beside its
target, is synced to disk, then renamed over the target: a reader sees the old bytes or
the new, a crash leaves at most a hidden ``.*.tmp`` file that no key can name, and a
failed write removes its own. File I/O runs on worker threads, off the event loop.

The folder is made on the first write, so a server that never stores a file never
makes it.
"""

import asyncio
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from chatorch.domain.errors import BlobNotFound, BlobUnavailable
from chatorch.ports.blobs import BlobStore, check_key

PIECE = 1 << 20  # bytes read at a time when streaming
P = ParamSpec("P")
T = TypeVar("T")


class FileBlobStore:
    """Bytes as files under ``root``; build it from a URL with ``connect``."""

    def __init__(self, root: Path) -> None:
        self._root = root.expanduser().absolute()  # a later chdir does not move it

    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> int:
        """An error of ``data`` itself (a client gone mid-upload) passes unchanged; only
        the file system's become ``BlobUnavailable``."""
        target = self._path(key)
        await _io(key, target.parent.mkdir, parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            handle = await _io(key, temporary.open, "xb")
            try:
                if isinstance(data, bytes):
                    size = await _io(key, handle.write, data)
                else:
                    size = 0
                    async for piece in data:
                        size += await _io(key, handle.write, piece)
                await _io(key, _sync, handle)
            finally:
                handle.close()
            await _io(key, os.replace, temporary, target)
        except BaseException:  # a failure or a cancellation: no part of it stays
            temporary.unlink(missing_ok=True)
            raise
        await _io(key, _sync_folder, target.parent)
        return size

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no bytes are stored under {key}") from None
        except OSError as error:
            raise BlobUnavailable(f"cannot read {key}: {_reason(error)}") from error

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no bytes are stored under {key}") from None
        except OSError as error:
            raise BlobUnavailable(f"cannot read {key}: {_reason(error)}") from error
        return _pieces(handle, key)

    async def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as error:
            raise BlobUnavailable(f"cannot delete {key}: {_reason(error)}") from error
        return True

    async def ping(self) -> None:
        def writable() -> bool:
            self._root.mkdir(parents=True, exist_ok=True)
            return os.access(self._root, os.W_OK | os.X_OK)

        try:
            if await asyncio.to_thread(writable):
                return
            raise BlobUnavailable("the blob folder is not writable")
        except OSError as error:
            raise BlobUnavailable(f"cannot use the blob folder: {_reason(error)}") from error

    async def close(self) -> None:
        return None  # no handle outlives a call

    def describe(self) -> dict[str, Any]:
        return {"backend": "file"}

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))


async def _pieces(handle: IO[bytes], key: str) -> AsyncIterator[bytes]:
    try:
        while piece := await asyncio.to_thread(handle.read, PIECE):
            yield piece
    except OSError as error:
        raise BlobUnavailable(f"cannot read {key}: {_reason(error)}") from error
    finally:
        handle.close()


async def _io(key: str, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """File system work on a worker thread; its failure is ``BlobUnavailable``."""
    try:
        return await asyncio.to_thread(work, *args, **kwargs)
    except OSError as error:
        raise BlobUnavailable(f"cannot store {key}: {_reason(error)}") from error


def _sync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    """Make a rename durable: the folder's entry is on disk once its folder is synced."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def connect(url: str) -> FileBlobStore:
    """The store a ``file:`` URL names: ``file:./data/files`` (relative to the working
    directory) or ``file:///var/lib/chatorch/files``.

    Raises:
        ValueError: not a ``file:`` URL of a folder on this machine.
    """
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ValueError(
            f"unsupported blob store {parts.scheme or url!r}; use file:<folder>,"
            " e.g. file:./data/files"
        )
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ValueError(
            f"{url!r} is not a folder on this machine; write file:./data/files"
            " or file:///var/lib/chatorch/files"
        )
    folder = unquote(parts.path)
    if not folder:
        raise ValueError(f"{url!r} names no folder; e.g. file:./data/files")
    return FileBlobStore(Path(folder))


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(store: FileBlobStore) -> BlobStore:
        return store
