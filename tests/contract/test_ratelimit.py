"""The RateLimiter contract: in memory and on Redis, fail-open when Redis is down."""

import time
from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.ratelimit.limits import LimitsRateLimiter, from_url
from chatorch.ports.ratelimit import RateLimiter
from tests.contract.conftest import redis_namespace
from tests.services import REDIS_URL


@pytest.fixture(params=[pytest.param("memory"), pytest.param("redis", marks=pytest.mark.services)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    """The backend's name and the namespace of this test's own."""
    if request.param == "memory":
        yield "memory", "test"
        return
    async with redis_namespace() as namespace:
        yield "redis", namespace


@pytest.fixture
async def limiter(backend: tuple[str, str]) -> AsyncIterator[RateLimiter]:
    name, namespace = backend
    adapter = from_url("memory://" if name == "memory" else REDIS_URL, namespace=namespace)
    yield adapter
    await adapter.close()


class TestRateLimiter:
    async def test_allows_up_to_the_limit_then_refuses(self, limiter: RateLimiter) -> None:
        decisions = [await limiter.hit("3/minute", "alice") for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert all(d.retry_after == 0 for d in decisions[:3])
        refused = decisions[3]
        assert 0 < refused.retry_after <= 60

    async def test_a_test_counts_nothing_and_says_what_a_hit_would(
        self, limiter: RateLimiter
    ) -> None:
        for _ in range(5):
            assert (await limiter.test("2/minute", "alice")).allowed
        assert (await limiter.hit("2/minute", "alice")).allowed
        assert (await limiter.hit("2/minute", "alice")).allowed
        refused = await limiter.test("2/minute", "alice")
        assert not refused.allowed
        assert 0 < refused.retry_after <= 60

    async def test_keys_are_counted_apart(self, limiter: RateLimiter) -> None:
        for _ in range(3):
            assert (await limiter.hit("3/minute", "alice")).allowed
        assert not (await limiter.hit("3/minute", "alice")).allowed
        for _ in range(3):
            assert (await limiter.hit("3/minute", "bob")).allowed
        assert not (await limiter.hit("3/minute", "bob")).allowed

    async def test_rules_are_counted_apart(self, limiter: RateLimiter) -> None:
        for _ in range(3):
            assert (await limiter.hit("3/minute", "alice")).allowed
        assert not (await limiter.hit("3/minute", "alice")).allowed
        for _ in range(5):
            assert (await limiter.hit("5/hour", "alice")).allowed
        assert not (await limiter.hit("5/hour", "alice")).allowed


class TestSharedServer:
    """Only a shared storage can hold a limit across processes: Redis, not memory."""

    async def test_the_limit_holds_across_limiters_on_one_server(self) -> None:
        async with redis_namespace() as namespace:
            one = from_url(REDIS_URL, namespace=namespace)
            other = from_url(REDIS_URL, namespace=namespace)
            try:
                assert (await one.hit("3/minute", "alice")).allowed
                assert (await other.hit("3/minute", "alice")).allowed
                assert (await one.hit("3/minute", "alice")).allowed
                refused = await other.hit("3/minute", "alice")
                assert not refused.allowed
                assert 0 < refused.retry_after <= 60
            finally:
                await one.close()
                await other.close()


class TestConfiguration:
    async def test_a_rule_that_does_not_parse_is_refused(self) -> None:
        limiter = from_url("memory://", namespace="test")
        try:
            with pytest.raises(ValueError, match="rate limit"):
                await limiter.hit("ten a minute", "alice")
        finally:
            await limiter.close()

    def test_an_unknown_scheme_is_refused(self) -> None:
        with pytest.raises(ValueError, match="scheme"):
            from_url("memcached://127.0.0.1:11211", namespace="test")


class TestRedisOutage:
    async def test_an_unreachable_server_lets_requests_through(self) -> None:
        limiter: LimitsRateLimiter = from_url("redis://127.0.0.1:1/0", namespace="x")
        try:
            started = time.monotonic()
            decisions = [await limiter.hit("1/minute", "alice") for _ in range(3)]
            assert time.monotonic() - started < 3
            assert all(d.allowed for d in decisions)
            assert all(d.retry_after == 0 for d in decisions)
        finally:
            await limiter.close()
