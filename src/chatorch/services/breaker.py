"""CircuitBreaker: stop calling a provider that keeps failing, probe it now and then.

Closed: calls go through; ``failures`` in a row open it. Open: calls are refused for
``reset_after`` seconds, then one probe is let through (half-open): its success closes
the breaker, its failure opens it again.
"""

import time
from enum import IntEnum


class State(IntEnum):
    """Values as exported in the ``chatorch_llm_breaker_state`` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    def __init__(self, *, failures: int, reset_after: float) -> None:
        self._limit = failures
        self._reset_after = reset_after  # s
        self._failures = 0
        self._opened_at = 0.0  # monotonic s
        self.state = State.CLOSED

    def allow(self) -> bool:
        """May a call go through now? Turns an open breaker half-open when it is time."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and time.monotonic() - self._opened_at >= self._reset_after:
            self.state = State.HALF_OPEN
            return True
        return False  # open, or half-open with its probe still out

    def succeeded(self) -> None:
        self._failures = 0
        self.state = State.CLOSED

    def failed(self) -> None:
        self._failures += 1
        if self.state is State.HALF_OPEN or self._failures >= self._limit:
            self.state = State.OPEN
            self._opened_at = time.monotonic()
