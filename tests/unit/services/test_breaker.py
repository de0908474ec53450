"""The circuit breaker opens after failures in a row and probes after a while."""

import time

from chatorch.services.breaker import CircuitBreaker, State


class TestCircuitBreaker:
    def test_opens_after_the_limit_of_failures_in_a_row(self) -> None:
        breaker = CircuitBreaker(failures=3, reset_after=60)
        for _ in range(2):
            breaker.failed()
        assert breaker.allow()
        breaker.failed()
        assert breaker.state is State.OPEN
        assert not breaker.allow()

    def test_a_success_resets_the_count(self) -> None:
        breaker = CircuitBreaker(failures=2, reset_after=60)
        breaker.failed()
        breaker.succeeded()
        breaker.failed()
        assert breaker.state is State.CLOSED

    def test_after_the_pause_one_probe_decides(self) -> None:
        breaker = CircuitBreaker(failures=1, reset_after=0.05)
        breaker.failed()
        assert not breaker.allow()
        time.sleep(0.06)
        assert breaker.allow()
        assert breaker.state is State.HALF_OPEN
        assert not breaker.allow()  # only one probe at a time
        breaker.failed()
        assert breaker.state is State.OPEN
        time.sleep(0.06)
        assert breaker.allow()
        breaker.succeeded()
        assert breaker.state is State.CLOSED
