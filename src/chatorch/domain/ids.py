"""Time-ordered UUIDv7 ids: every id chatorch mints sorts by creation time."""

from datetime import datetime
from uuid import UUID

from uuid_utils.compat import uuid7


def new_id() -> UUID:
    """Return a fresh UUIDv7 (monotonic within this process)."""
    return uuid7()


def parse_id(text: str) -> UUID | None:
    """Parse a UUID from text, or return None when it is not one."""
    try:
        return UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None


def id_at(moment: datetime) -> UUID:
    """The smallest UUIDv7 minted at ``moment`` (to the millisecond): ids minted before
    it sort below, ids minted then or after sort at or above."""
    millis = int(moment.timestamp() * 1000)
    return UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62))
