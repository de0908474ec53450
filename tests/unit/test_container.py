"""The container is what the API is handed: importing it, or a router, loads no driver."""

import subprocess
import sys

import pytest

DRIVERS = ["sqlalchemy", "asyncpg", "aiosqlite", "nats", "redis", "openai", "anthropic", "aiohttp"]
DRIVERS += ["qdrant_client", "wordllama", "numpy"]  # the vector index and the embedder


@pytest.mark.parametrize(
    "module", ["chatorch.container", "chatorch.api.admin", "chatorch.api.events"]
)
def test_importing_loads_no_driver(module: str) -> None:
    probe = f"import sys, {module}\nprint(','.join(m for m in {DRIVERS!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "", f"importing {module} loaded {loaded}"


def test_the_probe_sees_a_driver_when_one_is_loaded() -> None:
    probe = "import sys, chatorch.wiring\nprint('sqlalchemy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "True"
