"""A worker lost mid-answer, with another running: the answer goes on within seconds.

SIGKILL (a crash, an OOM kill): nothing tells NATS, which hands the work item to the
other worker once ``CHATORCH_ACK_WAIT`` (3 s by default) passes without a sign of
progress. SIGTERM (a rolling deploy): the worker finishes what it can in its grace
period and hands back the rest at once. Either way the client sees no error: a
``reset``, the new attempt, one stored answer — and the stall is measured.
"""

import asyncio
import itertools
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.api.conftest import Event, text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import Chatorch, chatorch, fake_openai
from tests.e2e.test_distributed import _ask, shared  # noqa: F401 - the deployment fixture

LONG = "openai:fake-slow-100-tokens-200"  # 20 s: longer than a worker's grace on SIGTERM


class TestWorkerLoss:
    @pytest.mark.timeout(180)
    @pytest.mark.parametrize(("signum", "stall"), [(signal.SIGKILL, 5.0), (signal.SIGTERM, 2.0)])
    def test_the_answer_goes_on_from_the_other_worker(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
        signum: signal.Signals,
        stall: float,
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**shared, "llm": LONG, "openai_base_url": upstream}
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            lost = stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            accepted = asyncio.run(_ask(gateway.url, "tell me a long story"))
            # The other worker starts once the first one holds the answer.
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            events, arrivals, lost_at = asyncio.run(
                _read_losing(gateway.url, accepted["events_url"], lost, signum)
            )
            history = asyncio.run(read_history(gateway.url, accepted["message"]["chat_id"]))
        resets = [e.data["attempt"] for e in events if e.event == "reset"]
        assert resets == [2]
        assert events[-1].event == "done"
        after_loss = [t for t in arrivals if t >= lost_at]
        gaps = [b - a for a, b in itertools.pairwise([lost_at, *after_loss])]
        assert max(gaps) < stall, f"the answer stalled {max(gaps):.1f} s"
        assert [(m["role"], m["status"]) for m in history] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert history[1]["content"] == text_of(events)  # stored once, as shown


async def _read_losing(
    url: str, path: str, worker: Chatorch, signum: signal.Signals
) -> tuple[list[Event], list[float], float]:
    """The answer's stream to its end; ``worker`` gets ``signum`` after 10 tokens.
    Returns the events, when each arrived, and when the signal was sent."""
    arrivals: list[float] = []
    tokens = 0
    lost_at = 0.0

    def lose_at_tenth_token(event: Event) -> None:
        nonlocal tokens, lost_at
        arrivals.append(time.monotonic())
        tokens += event.event == "token"
        if tokens == 10 and not lost_at:
            worker.process.send_signal(signum)
            lost_at = time.monotonic()

    events = await asyncio.wait_for(read_stream(url, path, on_event=lose_at_tenth_token), 90)
    return events, arrivals, lost_at
