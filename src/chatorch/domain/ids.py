"""Time-ordered UUIDv7 ids: every id chatorch mints sorts by creation time."""

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
