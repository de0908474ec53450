"""Browser fixtures: a real ``chatorch serve`` and Debian's headless Chromium.

Chromium is the system package (``apt-get install chromium``), never a browser that
``playwright install`` downloads. Without it the browser tests skip — or fail, when
``CHATORCH_REQUIRE_SERVICES=1`` says this run must exercise everything.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.processes import fake_openai

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 20.0
MAX_CONTENT_CHARS = 200  # small, so a test can provoke the server's "too large" problem


def _require_chromium() -> None:
    """Skip (or, with CHATORCH_REQUIRE_SERVICES=1, fail) without Chromium or Playwright."""
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "the playwright package is not installed (pip install playwright)"
    else:
        return
    if os.environ.get("CHATORCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATORCH_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    # No proxies: a CI proxy must not see (or swallow) requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a ``chatorch serve`` whose SQLite database lives in a temp dir."""
    _require_chromium()  # no point starting a server the tests cannot drive
    with _chatorch(tmp_path_factory.mktemp("server"), {}) as url:
        yield url


@pytest.fixture(scope="module")
def openai_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like ``server_url``, answering with the OpenAI provider against the fake server."""
    _require_chromium()
    with fake_openai() as upstream:
        settings = {"CHATORCH_LLM": "openai:gpt-fake", "CHATORCH_OPENAI_BASE_URL": upstream}
        with _chatorch(tmp_path_factory.mktemp("openai-server"), settings) as url:
            yield url


@contextmanager
def _chatorch(workdir: Path, settings: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
    env |= {
        "CHATORCH_LOG_LEVEL": "warning",
        "CHATORCH_MAX_CONTENT_CHARS": str(MAX_CONTENT_CHARS),
        **settings,
    }
    command = [str(Path(sys.executable).with_name("chatorch")), "serve", "--port", str(port)]
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = log_path.read_text(errors="replace")[-2000:]
                state = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
                pytest.fail(f"chatorch serve {state} before /healthz answered:\n{log_text}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def max_content_chars() -> int:
    """The server's CHATORCH_MAX_CONTENT_CHARS."""
    return MAX_CONTENT_CHARS


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: "Browser") -> Iterator["Page"]:
    """A fresh browser context (no shared storage) and page per test."""
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
