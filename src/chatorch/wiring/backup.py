"""``chatorch backup`` and ``restore``: the database at CHATORCH_DATABASE_URL and the blob
store at CHATORCH_BLOB_URL to a file and back (``adapters.sql.dump``, ``load``; ADR 0022).

Every failure leaves as one ``BackupFailed`` line for the command to print: a refused
file names its line, an unreachable database its setting.
"""

from contextlib import AsyncExitStack
from pathlib import Path
from uuid import UUID

from sqlalchemy.exc import SQLAlchemyError

from chatorch import __version__
from chatorch.adapters.sql.dump import Tracker, Written, head_revision, write_backup
from chatorch.adapters.sql.dump_format import BackupError
from chatorch.adapters.sql.load import Restored, check, load
from chatorch.domain.entities import FileMeta
from chatorch.domain.errors import ChatorchError
from chatorch.ports.blobs import BlobStore
from chatorch.services.artifacts import blob_key
from chatorch.settings import Settings
from chatorch.wiring.artifacts import build_blobs
from chatorch.wiring.startup import StartupError
from chatorch.wiring.store import migrate_database

__all__ = ["BackupFailed", "Restored", "Tracker", "Written", "backup", "restore"]


class BackupFailed(Exception):
    """The backup or restore stopped; the message says why (and where, in the file)."""


def _key_for(owner_id: UUID, sha256: str) -> str:
    """The blob key the target's ArtifactManager reads a file's bytes by."""
    return blob_key(FileMeta(owner_id=owner_id, name="", media_type="", size=0, sha256=sha256))


async def backup(settings: Settings, path: Path, tracker: Tracker) -> Written:
    """Write everything stored to ``path``, from one snapshot."""
    async with AsyncExitStack() as stack:
        blobs = _blobs(settings, stack)
        try:
            return await write_backup(
                settings.database_url,
                path,
                blobs=blobs,
                key_for=_key_for,
                tracker=tracker,
                chatorch_version=__version__,
            )
        except BackupError as error:
            raise BackupFailed(str(error)) from None
        except ChatorchError as error:  # the blob store could not be read
            raise BackupFailed(f"CHATORCH_BLOB_URL: {error.detail}") from None
        except OSError as error:
            if error.filename is None:  # a connection, not a file
                raise BackupFailed(_database(error)) from None
            raise BackupFailed(f"cannot write {path}: {error.strerror or error}") from None
        except SQLAlchemyError as error:  # the database's driver, in its own words
            raise BackupFailed(_database(error)) from None


async def restore(settings: Settings, path: Path, tracker: Tracker) -> Restored:
    """Check the backup at ``path`` whole, migrate the target, then write it all at once."""
    try:
        checked = check(path, tracker, head=head_revision())
    except BackupError as error:
        raise BackupFailed(f"{path} is refused, nothing was written: {error}") from None
    except OSError as error:
        raise BackupFailed(f"cannot read {path}: {error.strerror or error}") from None
    try:
        migrate_database(settings.database_url)
    except StartupError as error:
        raise BackupFailed(str(error)) from None
    async with AsyncExitStack() as stack:
        blobs = _blobs(settings, stack)
        try:
            return await load(
                settings.database_url,
                path,
                checked,
                blobs=blobs,
                key_for=_key_for,
                tracker=tracker,
            )
        except BackupError as error:
            raise BackupFailed(str(error)) from None
        except ChatorchError as error:  # the blob store could not be written
            detail = f"CHATORCH_BLOB_URL: {error.detail}; no row was written"
            raise BackupFailed(detail) from None
        except (SQLAlchemyError, OSError) as error:
            raise BackupFailed(_database(error) + "; no row was written") from None


def _blobs(settings: Settings, stack: AsyncExitStack) -> BlobStore:
    try:
        return build_blobs(settings, stack)
    except StartupError as error:
        raise BackupFailed(str(error)) from None


def _database(error: Exception) -> str:
    """The driver's own words (SQLAlchemy's wrapper adds the statement and a link)."""
    cause = getattr(error, "orig", None) or error
    return f"CHATORCH_DATABASE_URL: {type(cause).__name__}: {cause}"
