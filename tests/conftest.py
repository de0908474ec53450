"""Suite-wide fixtures: a closed local port, and the guard that no credential a test made
shows up in what chatorch printed.

Tests register the keys, tokens and provider secrets they create with ``remember``;
after each test, everything written to stdout and stderr (chatorch's logs in the
in-process apps, uvicorn's messages) is searched for them. Processes started by the
end-to-end tests log to files, which ``tests/e2e/test_secrets_in_logs.py`` reads.
"""

import socket
from collections.abc import Iterator

import pytest

_SECRETS: set[str] = set()


def remember(secret: str) -> str:
    """Note a credential that must never be printed; return it unchanged."""
    _SECRETS.add(secret)
    return secret


@pytest.fixture(autouse=True)
def _no_secret_is_printed(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    out, err = capsys.readouterr()
    leaked = sorted(secret[:12] + "…" for secret in _SECRETS if secret in out or secret in err)
    assert not leaked, f"credentials appeared in the output: {leaked}"
    print(out, end="")  # give the test's output back to pytest's report


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
