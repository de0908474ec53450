"""Two workers with room for one answer each: a question asked while one is busy goes
to the other at once. Taken by the busy one, it would wait there unheard until its ack
wait ran out, and then be answered twice.

The idle worker starts after the busy one took its answer, so the busy one's requests
for work are the older: JetStream serves the oldest first."""

import asyncio
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.api.conftest import Event
from tests.e2e.client import read_stream
from tests.e2e.processes import chatorch, fake_openai
from tests.e2e.test_distributed import _ask, shared  # noqa: F401 - the deployment fixture

LONG = "openai:fake-slow-100-tokens-80"  # 8 s: it outlasts the other worker's start
QUICK = "openai:fake-slow-20-tokens-10"  # 0.2 s


class _Deployment:
    """A gateway and workers with room for one answer each, on one fake model."""

    def __init__(self, stack: ExitStack, workdir: Path, common: dict[str, str], llm: str) -> None:
        upstream = stack.enter_context(fake_openai())
        self._stack, self._workdir = stack, workdir
        self._settings = {
            **common,
            "llm": llm,
            "openai_base_url": upstream,
            "worker_concurrency": "1",
        }
        self.url = self._start("gateway")
        self.start_worker()

    def start_worker(self) -> None:
        self._start("worker")

    def _start(self, role: str) -> str:
        return self._stack.enter_context(chatorch(self._workdir, role=role, **self._settings)).url


class TestWorkSharing:
    @pytest.mark.timeout(120)
    def test_a_busy_worker_leaves_the_next_question_to_an_idle_one(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            deployment = _Deployment(stack, tmp_path, shared, LONG)
            first, second, waited = asyncio.run(
                _ask_while_busy(deployment.url, deployment.start_worker)
            )
        assert waited < 2.0, f"the second question waited {waited:.1f} s for a worker"
        assert "reset" not in [e.event for e in first + second]  # each on its first attempt

    @pytest.mark.timeout(120)
    def test_a_worker_with_room_for_one_takes_the_next_as_soon_as_one_is_done(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        """No pause between answers while work waits: a freed slot asks for the next."""
        with ExitStack() as stack:
            deployment = _Deployment(stack, tmp_path, shared, QUICK)
            took = asyncio.run(_ask_at_once(deployment.url, count=5))
        assert took < 4.0, f"5 answers of 0.2 s, one at a time, took {took:.1f} s"  # 10 s paused


async def _ask_while_busy(
    url: str, start_idle_worker: Callable[[], None]
) -> tuple[list[Event], list[Event], float]:
    """Ask in one chat; once its answer flows, start the other worker and ask in another
    chat. Return the events of both streams until the second one's third token, and how
    long the second question waited for its first."""
    busy = await _ask(url, "tell me a long story")
    flowing = asyncio.Event()
    first: list[Event] = []

    def flows(event: Event) -> None:
        first.append(event)
        flowing.set()

    reading = asyncio.create_task(read_stream(url, busy["events_url"], on_event=flows))
    await asyncio.wait_for(flowing.wait(), 30)
    await asyncio.to_thread(start_idle_worker)
    asked = time.monotonic()
    answered_at: list[float] = []
    accepted = await _ask(url, "and another one")

    def note(event: Event) -> None:
        if event.event == "token" and not answered_at:
            answered_at.append(time.monotonic())

    second = await read_stream(url, accepted["events_url"], count=3, on_event=note)
    reading.cancel()
    return first, second, answered_at[0] - asked


async def _ask_at_once(url: str, *, count: int) -> float:
    """Ask ``count`` questions in as many chats at once; seconds until all are done."""
    asked = time.monotonic()
    accepted = await asyncio.gather(*(_ask(url, f"question {n}") for n in range(count)))
    streams = await asyncio.gather(*(read_stream(url, a["events_url"]) for a in accepted))
    assert all(events[-1].event == "done" for events in streams)
    return time.monotonic() - asked
