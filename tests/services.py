"""Reach the real servers this machine runs, or skip — or fail when CI requires them.

``CHATORCH_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing server into a
failure, so CI can never go green by skipping the adapters it is meant to test.
"""

import os
import socket

import pytest

POSTGRES_URL = os.environ.get(
    "CHATORCH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CHATORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CHATORCH_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) unless ``name`` listens on ``host:port``."""
    if _listening(host, port):
        return
    reason = f"{name} is not listening on {host}:{port}"
    if os.environ.get("CHATORCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATORCH_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{reason}; start it to run this test")
