"""``chatorch backup FILE`` and ``chatorch restore FILE``: everything chatorch stores, to a
file and back, from any database to any other (ADR 0022, docs/operations.md).

Progress is a bar on stderr when it is a terminal, and nothing otherwise, so a cron job
logs only the one-line summary (stdout) or the one-line failure (stderr).
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chatorch.cli.common import fail, load_settings, run

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

_FILE_HELP = "the backup's path (gzip'd JSON Lines)"


def backup(
    file: Annotated[str, typer.Argument(help=_FILE_HELP)],
) -> None:
    """Write every row and every file's bytes to FILE, from one consistent snapshot."""
    from chatorch.wiring.backup import BackupFailed
    from chatorch.wiring.backup import backup as write

    settings = load_settings()
    with _tracker() as tracker:
        try:
            written = _run(write(settings, Path(file), tracker))
        except BackupFailed as error:
            fail(str(error))
    for file_id in written.missing:
        typer.echo(f"chatorch: file {file_id}: its bytes are missing; row kept", err=True)
    rows = sum(written.rows.values())
    typer.echo(f"backed up {rows} rows and the bytes of {written.blobs} files to {file}")


def restore(
    file: Annotated[str, typer.Argument(help=_FILE_HELP)],
) -> None:
    """Check FILE whole, then restore it into the database and blob store, all at once."""
    from chatorch.wiring.backup import BackupFailed
    from chatorch.wiring.backup import restore as load

    settings = load_settings()
    with _tracker() as tracker:
        try:
            restored = _run(load(settings, Path(file), tracker))
        except BackupFailed as error:
            fail(str(error))
    added, kept = sum(restored.added.values()), sum(restored.kept.values())
    typer.echo(
        f"restored {added} rows ({kept} already there, kept as they were)"
        f" and the bytes of {restored.blobs} files from {file}"
    )
    if restored.to_read:
        typer.echo(
            f"{restored.to_read} files are read again and indexed by the next"
            " `chatorch serve` or `chatorch worker`"
        )


def _run(work: Any) -> Any:
    result: list[Any] = []

    async def main() -> None:
        result.append(await work)

    run(main())
    return result[0]


class _Bar:
    """A rich progress bar on stderr: one task per phase (checking, writing)."""

    def __init__(self, progress: "Progress | None") -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, count: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)

    def __enter__(self) -> "_Bar":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _tracker() -> _Bar:
    if not sys.stderr.isatty():
        return _Bar(None)
    from rich.console import Console
    from rich.progress import Progress

    return _Bar(Progress(console=Console(stderr=True), transient=True))
