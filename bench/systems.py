"""The processes a benchmark runs: started on 127.0.0.1, watched, and always stopped.

A :class:`Server` is one process the bench started; :class:`Usage` reads the CPU time
and resident memory of a set of them over a measured window.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One process of the bench's own; its output goes to a log file in ``workdir``."""

    def __init__(self, name: str, argv: Sequence[str], *, workdir: Path, env: dict[str, str]):
        self.name = name
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
            )
        self.ps = psutil.Process(self.process.pid)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Until ``url`` answers (any status): the server is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer {url}:\n{self.log.read_text()[-3000:]}")

    def wait_line(self, prefix: str, timeout: float = 30.0) -> str:
        """Until the log holds a line starting with ``prefix``; returns its rest."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            for line in self.log.read_text().splitlines():
                if line.startswith(prefix):
                    return line.removeprefix(prefix).strip()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} never printed {prefix!r}:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def started(
    name: str, argv: Sequence[str], *, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    server = Server(name, argv, workdir=workdir, env=env or {})
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fake_upstream(workdir: Path) -> Iterator[tuple[Server, str]]:
    """The fake OpenAI-compatible server; yields it and its ``/v1`` URL."""
    argv = [sys.executable, "-m", "tests.fixtures.fake_openai", "--port", "0"]
    with started("upstream", argv, workdir=workdir) as server:
        url = server.wait_line("listening on ") + "/v1"
        yield server, url


@contextmanager
def uvicorn_app(
    name: str, app: str, *, workdir: Path, env: dict[str, str]
) -> Iterator[tuple[Server, str]]:
    """An ASGI app under uvicorn, one worker, uvloop and httptools as chatorch runs."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), app, "--port", str(port), "--loop", "uvloop"]
    argv += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    with started(name, argv, workdir=workdir, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        server.wait_http(url)
        yield server, url


@dataclass(frozen=True, slots=True)
class Used:
    """CPU seconds and peak resident bytes of some processes over one window."""

    cpu_seconds: float
    peak_rss: int
    by_server: dict[str, float] = field(default_factory=dict)  # name → its CPU seconds


class Usage:
    """Samples the resident memory of ``servers`` every 20 ms while it is open."""

    def __init__(self, servers: Sequence[Server]) -> None:
        self._servers = servers
        self._peak = 0
        self._cpu_at_start: dict[str, float] = {}
        self._stop = threading.Event()
        self.used = Used(0.0, 0)  # set when the window closes
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        return rss(self._servers)

    def _cpu(self) -> dict[str, float]:
        times = {server.name: server.ps.cpu_times() for server in self._servers}
        return {name: t.user + t.system for name, t in times.items()}

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, self._rss())

    def __enter__(self) -> "Usage":
        self._cpu_at_start = self._cpu()
        self._peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        spent = {name: cpu - self._cpu_at_start[name] for name, cpu in self._cpu().items()}
        self.used = Used(sum(spent.values()), max(self._peak, self._rss()), spent)


def rss(servers: Sequence[Server]) -> int:
    """Resident bytes of ``servers`` now."""
    return sum(server.ps.memory_info().rss for server in servers)
