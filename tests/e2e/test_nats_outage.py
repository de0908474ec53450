"""A NATS restart mid-answer: the stream stalls for the outage, not 10 s longer.

A private ``nats-server`` (JetStream on a folder of the test's own) is stopped while an
answer streams and started again 3 s later. Gateway and worker reconnect; the stream
goes on within 2 s of the server's return, with no event missing, and shows the answer
that is stored.
"""

import asyncio
import itertools
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.api.conftest import Event, text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import CHATORCH, chatorch, fake_openai, free_port
from tests.e2e.test_distributed import _ask
from tests.services import POSTGRES_URL, REDIS_URL, postgres_admin, require

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
OUTAGE = 3.0  # s the server is down
SLOW = "openai:fake-slow-50-tokens-200"  # 10 s of tokens


@contextmanager
def _nats(port: int, store: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A JetStream server of the test's own; stopped in the teardown if still running."""
    server = subprocess.Popen(
        [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def database() -> Iterator[str]:
    require("PostgreSQL", "127.0.0.1", 5432)
    require("Redis", "127.0.0.1", 6379)
    if not Path(NATS_SERVER).exists():
        pytest.skip("nats-server is not installed")
    name = f"chatorch_nats_outage_{free_port()}"
    asyncio.run(postgres_admin(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


class TestNatsRestart:
    @pytest.mark.timeout(120)
    def test_a_stream_resumes_within_2_s_of_the_servers_return(
        self, tmp_path: Path, database: str
    ) -> None:
        port = free_port()
        store = tmp_path / "jetstream"
        with ExitStack() as stack:
            first = stack.enter_context(_nats(port, store))
            upstream = stack.enter_context(fake_openai())
            settings = {
                "database_url": database,
                "bus_url": f"nats://127.0.0.1:{port}",
                "cache_url": REDIS_URL,
                "namespace": f"outage-{port}",
                "llm": SLOW,
                "openai_base_url": upstream,
            }
            env = {"PATH": "/usr/bin:/bin"} | {
                f"CHATORCH_{k.upper()}": v for k, v in settings.items()
            }
            subprocess.run([str(CHATORCH), "migrate"], env=env, check=True, capture_output=True)
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))

            def restart() -> float:
                first.send_signal(signal.SIGTERM)
                first.wait(timeout=10)
                time.sleep(OUTAGE)
                stack.enter_context(_nats(port, store))
                return time.monotonic()

            chat_id, events, arrivals, back = asyncio.run(_read_through(gateway.url, restart))
            history = asyncio.run(read_history(gateway.url, chat_id))
        stalled = max(later - earlier for earlier, later in itertools.pairwise(arrivals))
        assert stalled < OUTAGE + 2, f"the stream stalled {stalled:.1f} s"
        resumed = min(t for t in arrivals if t >= back - 0.1)
        assert resumed - back < 2.0
        seqs = [int(str(e.id).rsplit(":", 1)[1]) for e in events]
        assert seqs == list(range(len(seqs)))  # no event missing, none twice
        assert events[-1].event == "done"
        assert history[-1]["content"] == text_of(events)


async def _read_through(
    url: str, restart: Callable[[], float]
) -> tuple[str, list[Event], list[float], float]:
    """Ask, read the answer's stream, and restart NATS once tokens flow; return the
    chat, the events, when each arrived, and when the server was back."""
    accepted = await _ask(url, "tell me a long story")
    arrivals: list[float] = []
    restarting: list[asyncio.Task[float]] = []

    def restart_at_twentieth(_: Event) -> None:
        arrivals.append(time.monotonic())
        if len(arrivals) == 20:
            restarting.append(asyncio.create_task(asyncio.to_thread(restart)))

    events = await read_stream(url, accepted["events_url"], on_event=restart_at_twentieth)
    (restarted,) = restarting
    return accepted["message"]["chat_id"], events, arrivals, await restarted
