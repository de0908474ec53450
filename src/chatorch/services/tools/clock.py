"""The ``current_time`` tool: models do not know what time it is, so they ask."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolSpec


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CurrentTime:
    """Tells the current time in an IANA time zone (UTC unless asked otherwise)."""

    _SPEC = ToolSpec(
        name="current_time",
        description=(
            "Get the current date and time, in ISO 8601. Pass an IANA time zone such "
            "as 'Europe/Paris' or 'America/New_York'; the default is UTC."
        ),
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone name, e.g. 'Asia/Tokyo'. Default: UTC.",
                }
            },
        },
    )

    def __init__(self, now: Callable[[], datetime] = _utc_now) -> None:
        """``now`` is injectable so tests can freeze time."""
        self._now = now

    @property
    def spec(self) -> ToolSpec:
        return self._SPEC

    async def call(self, arguments: dict[str, Any]) -> str:
        name = arguments.get("timezone") or "UTC"
        if not isinstance(name, str):
            raise ToolFailed("'timezone' must be a time zone name such as 'Europe/Paris'")
        zone = _zone(name)
        moment = self._now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return f"{moment.astimezone(zone).isoformat(timespec='seconds')} ({name})"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolFailed(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'"
        ) from None
