"""Group commit for the embedded SQLite store: one fsync for every commit waiting on one.

With ``synchronous=FULL``, SQLite fsyncs its write-ahead log inside each commit, on the
event loop's thread (ADR 0008): under load, four fsyncs per answer, each one stalling
every stream of the process. Instead the connection runs with ``synchronous=NORMAL``,
where a commit only writes the log (a checkpoint syncs it; the database stays consistent
after a power loss, but its last commits could be missing), and a transaction that wrote
waits here, after giving the connection back, for an fsync of the log that began after
its commit. That fsync runs on a thread and covers every commit made before it began, so
commits that wait together share one (ADR 0010).
"""

import asyncio
import os
from pathlib import Path


class GroupCommit:
    """Makes committed writes durable, many commits to one fsync of the log."""

    def __init__(self) -> None:
        self.database: Path | None = None  # the database file, once a connection names it
        self._pending: asyncio.Future[None] | None = None  # the fsync the next waiters share
        self._flusher: asyncio.Task[None] | None = None
        self._synced_log: int | None = None  # the log file whose directory entry is synced

    async def durable(self) -> None:
        """Return once every commit made before this call is on disk.

        Raises:
            OSError: the disk did not confirm the write.
        """
        if self.database is None:
            return
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._flush())
        # Shielded: one waiter giving up must not cancel the fsync the others share.
        await asyncio.shield(self._pending)

    async def _flush(self) -> None:
        """fsync for as long as commits wait; each fsync takes every waiter so far."""
        batch = None
        try:
            while (batch := self._pending) is not None:
                self._pending = None
                try:
                    await asyncio.to_thread(self._fsync_log)
                except OSError as error:
                    batch.set_exception(error)
                    batch.exception()  # retrieved: a waiter that left must not warn
                else:
                    batch.set_result(None)
        finally:
            # Cancelled (its loop is closing): its waiters go with it, and the next
            # commit, on whatever loop, starts afresh.
            for waiting in (batch, self._pending):
                if waiting is not None:
                    waiting.cancel()
            self._pending = self._flusher = None

    def _fsync_log(self) -> None:
        """fsync the write-ahead log, and its directory entry once per log file.

        fsync applies to the file, whichever descriptor names it. A log that is gone was
        checkpointed into the database and removed, which syncs what it held.
        """
        assert self.database is not None
        log = self.database.with_name(self.database.name + "-wal")
        try:
            descriptor = os.open(log, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(descriptor)
            inode = os.fstat(descriptor).st_ino
        finally:
            os.close(descriptor)
        if inode != self._synced_log:  # a new log file: SQLite's FULL syncs its directory
            directory = os.open(log.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._synced_log = inode
