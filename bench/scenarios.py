"""The systems under load: each a context that starts it and says how to talk to it.

A system yields a :class:`Target`: the load generator's dialect, the URL (or URLs:
several gateways), the API key to send if any, and the processes whose CPU and memory
are its cost. All share the one fake upstream.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.backing import Backing
from bench.systems import BIN, Server, free_port, started, uvicorn_app


@dataclass(frozen=True, slots=True)
class Target:
    dialect: str
    url: str
    servers: list[Server]
    key: str | None = None  # sent as a bearer token on every request
    more_urls: tuple[str, ...] = ()  # further gateways the load is spread over

    @property
    def urls(self) -> list[str]:
        return [self.url, *self.more_urls]


@dataclass(frozen=True, slots=True)
class Upstream:
    server: Server
    url: str  # …/v1


System = Callable[[Upstream, Path, Backing | None], AbstractContextManager[Target]]


@contextmanager
def direct(upstream: Upstream, workdir: Path, backing: Backing | None) -> Iterator[Target]:
    """No relay at all: the floor."""
    yield Target("openai", upstream.url, [upstream.server])


@contextmanager
def thin_relay(upstream: Upstream, workdir: Path, backing: Backing | None) -> Iterator[Target]:
    env = {"UPSTREAM": upstream.url}
    with uvicorn_app("thin-relay", "bench.relays.thin:app", workdir=workdir, env=env) as (
        server,
        url,
    ):
        yield Target("relay", url, [server])


@contextmanager
def fast_relay(upstream: Upstream, workdir: Path, backing: Backing | None) -> Iterator[Target]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.relays.fast", "--port", str(port)]
    with started("fast-relay", argv, workdir=workdir, env={"UPSTREAM": upstream.url}) as server:
        url = f"http://127.0.0.1:{port}"
        server.wait_http(url)
        yield Target("relay", url, [server])


def chatorch_env(upstream: Upstream, **settings: str) -> dict[str, str]:
    """chatorch on the fake upstream, its per-person limits lifted for the load."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATORCH_")}
    env |= {
        "CHATORCH_LLM": "openai:fake",
        "CHATORCH_OPENAI_BASE_URL": upstream.url,
        # Every virtual user is the one local user: over a minute, its moving window
        # would hold some 20,000 entries, each hit shifting them all, a cost no real
        # user's window (at most its limit, 60 by default) has.
        "CHATORCH_RATE_MESSAGES": "100000/second",
        "CHATORCH_MAX_STREAMS_PER_USER": "100000",
    }
    return env | {f"CHATORCH_{key.upper()}": value for key, value in settings.items()}


@contextmanager
def chatorch(
    role: str, workdir: Path, env: dict[str, str], *, name: str | None = None
) -> Iterator[tuple[Server, str]]:
    """``chatorch serve|gateway`` on a free port, once it answers ``/healthz``."""
    port = free_port()
    argv = [str(BIN / "chatorch"), role, "--port", str(port)]
    with started(name or f"chatorch-{role}", argv, workdir=workdir, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        server.wait_http(f"{url}/healthz")
        yield server, url


def migrate(env: dict[str, str]) -> None:
    """Create the schema (gateways and workers expect a migrated database)."""
    subprocess.run([str(BIN / "chatorch"), "migrate"], env=env, check=True, capture_output=True)


def create_key(env: dict[str, str], user: str = "bench") -> str:
    """A new API key for ``user`` in ``env``'s (migrated) database, as an operator makes one."""
    argv = [str(BIN / "chatorch"), "keys", "create", "--user", user]
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def embedded(upstream: Upstream, workdir: Path, backing: Backing | None) -> Iterator[Target]:
    env = chatorch_env(upstream, database_url=f"sqlite+aiosqlite:///{workdir}/embedded.db")
    with chatorch("serve", workdir, env) as (server, url):
        yield Target("chatorch", url, [server])


@contextmanager
def distributed(upstream: Upstream, workdir: Path, backing: Backing | None) -> Iterator[Target]:
    """One gateway and one worker on NATS, Redis and PostgreSQL."""
    with deployment(upstream, workdir, backing, gateways=1, workers=1) as target:
        yield target


@contextmanager
def deployment(
    upstream: Upstream,
    workdir: Path,
    backing: Backing | None,
    *,
    gateways: int,
    workers: int,
    settings: dict[str, str] | None = None,
) -> Iterator[Target]:
    """``gateways`` gateways and ``workers`` workers on NATS, Redis and PostgreSQL.

    With more than one of a kind, each process is named ``chatorch-<role>-<n>``.
    """
    if backing is None:
        raise ValueError("the distributed system needs the backing services")
    env = chatorch_env(upstream, **backing.settings, **(settings or {}))
    migrate(env)
    with ExitStack() as stack:
        fronts = [
            stack.enter_context(
                chatorch("gateway", workdir, env, name=_name("gateway", n, gateways))
            )
            for n in range(1, gateways + 1)
        ]
        backs = [
            stack.enter_context(_worker(workdir, env, _name("worker", n, workers)))
            for n in range(1, workers + 1)
        ]
        servers = [server for server, _ in fronts] + backs
        urls = [url for _, url in fronts]
        yield Target("chatorch", urls[0], servers, more_urls=tuple(urls[1:]))


@contextmanager
def _worker(workdir: Path, env: dict[str, str], name: str) -> Iterator[Server]:
    """A worker, once its health port answers: started, so no warm-up is spent starting it."""
    port = free_port()
    argv = [str(BIN / "chatorch"), "worker", "--port", str(port)]
    with started(name, argv, workdir=workdir, env=env) as server:
        server.wait_http(f"http://127.0.0.1:{port}/healthz")
        yield server


def _name(role: str, n: int, of: int) -> str:
    return f"chatorch-{role}" if of == 1 else f"chatorch-{role}-{n}"


SYSTEMS: dict[str, tuple[System, bool]] = {  # name → (system, needs the backing services)
    "direct": (direct, False),
    "thin relay": (thin_relay, False),
    "fast relay": (fast_relay, False),
    "embedded": (embedded, False),
    "distributed": (distributed, True),
}
