"""Log format and levels: libraries' lines look like ours; the HTTP clients' line per
request stays out of info logs."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from chatorch import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = (*logs.QUIET_AT_INFO, *logs.NEVER_BELOW_WARNING)
    levels = {name: logging.getLogger(name).level for name in quieted}
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


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("name", logs.NEVER_BELOW_WARNING)
def test_clients_whose_lines_carry_credentials_stay_quiet_even_at_debug(name: str) -> None:
    logs.configure(level="debug")
    assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert logging.getLogger(name).isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("restore_logging")
def test_library_lines_are_rendered_like_ours(capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn and nats log through ``logging``; a reader (or a log shipper) sees one
    format: compact JSON, the fields first, then event, level and timestamp."""
    logs.configure(level="info", fmt="json")
    structlog.get_logger("chatorch.test").info("chatorch.started", role="serve")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    ours, uvicorn = (json.loads(line) for line in lines)
    for line, parsed in zip(lines, (ours, uvicorn), strict=True):
        assert line == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
        assert list(parsed)[-3:] == ["event", "level", "timestamp"]
    assert uvicorn == {
        "logger": "uvicorn.error",
        "event": "Started server process [42]",
        "level": "info",
        "timestamp": uvicorn["timestamp"],
    }
    assert ours["timestamp"].endswith("Z")
    assert uvicorn["timestamp"].endswith("Z")


@pytest.mark.usefixtures("restore_logging")
def test_a_library_line_carries_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(level="info", fmt="json")
    structlog.contextvars.bind_contextvars(request_id="r-1")
    try:
        logging.getLogger("sqlalchemy.pool").warning("connection invalidated")
    finally:
        structlog.contextvars.clear_contextvars()
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["request_id"] == "r-1"
