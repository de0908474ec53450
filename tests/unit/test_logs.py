"""Log levels: the HTTP clients' line per request stays out of info logs."""

import logging
from collections.abc import Iterator

import pytest
import structlog

from chatorch import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logs.QUIET_AT_INFO}
    yield
    root.handlers, root.level = handlers, level
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("name", logs.QUIET_AT_INFO)
def test_http_client_requests_are_not_logged_at_info_but_warnings_are(name: str) -> None:
    logs.configure(level="info")
    client = logging.getLogger(name)
    assert not client.isEnabledFor(logging.INFO)
    assert client.isEnabledFor(logging.WARNING)
    assert logging.getLogger("chatorch").isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("restore_logging")
def test_debug_shows_the_http_clients_requests_again() -> None:
    logs.configure(level="info")
    logs.configure(level="debug")
    assert logging.getLogger("httpx2").isEnabledFor(logging.DEBUG)
