"""RateLimiter: fixed or moving windows of allowed hits per key."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a hit is allowed; when not, how long until one would be."""

    allowed: bool
    retry_after: float  # s until the next hit would be allowed (0 when allowed)


class RateLimiter(Protocol):
    async def hit(self, rule: str, key: str) -> Decision:
        """Count one hit of ``key`` against ``rule`` (e.g. ``"10/minute"``); say if allowed."""
        ...

    async def test(self, rule: str, key: str) -> Decision:
        """Whether a hit of ``key`` would be allowed now, counting nothing."""
        ...

    async def close(self) -> None: ...
