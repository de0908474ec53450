"""Real chatorch processes for end-to-end tests: start, wait until healthy, kill.

Every process started here ends in the test's teardown; nothing is killed by name.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHATORCH = Path(sys.executable).with_name("chatorch")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def fake_openai() -> Iterator[str]:
    """The fake OpenAI-compatible server as its own process; yields its /v1 URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.fake_openai", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("listening on "), line
        yield line.removeprefix("listening on ").strip() + "/v1"
    finally:
        _stop(process)


class Chatorch:
    """One chatorch process (``serve`` unless told) on a free port, working in ``workdir``."""

    def __init__(self, workdir: Path, *, role: str = "serve", **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
        env |= {f"CHATORCH_{k.upper()}": v for k, v in settings.items()}
        env["CHATORCH_LOG_LEVEL"] = env.get("CHATORCH_LOG_LEVEL", "warning")
        self.log = workdir / f"chatorch-{role}-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(CHATORCH), role, "--port", str(self.port)],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chatorch exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"chatorch did not become healthy: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        _stop(self.process)


@contextmanager
def chatorch(workdir: Path, *, role: str = "serve", **settings: str) -> Iterator[Chatorch]:
    server = Chatorch(workdir, role=role, **settings)
    try:
        yield server
    finally:
        server.stop()
