"""A worker frozen mid-answer (SIGSTOP) past the ack wait, then thawed (SIGCONT).

Another worker takes the answer over (attempt 2) and stores it; when the frozen one
wakes, its older attempt must not be stored, and the client's stream must end with the
``done`` of the stored attempt, showing exactly the stored text.
"""

import asyncio
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.api.conftest import Event, text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import chatorch, fake_openai
from tests.e2e.test_distributed import _ask, shared  # noqa: F401 - the deployment fixture


class TestFrozenWorker:
    @pytest.mark.timeout(180)
    def test_a_thawed_worker_never_stores_its_superseded_attempt(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            llm = "openai:fake-slow-100-tokens-40"  # 4 s
            settings = {**shared, "llm": llm, "openai_base_url": upstream, "ack_wait": "2"}
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            frozen = stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            accepted = asyncio.run(_ask(gateway.url, "tell me a story"))
            path = accepted["events_url"]
            # Frozen near its end: thawed, it would finish before the takeover does.
            before = asyncio.run(read_stream(gateway.url, path, count=35))
            frozen.process.send_signal(signal.SIGSTOP)
            try:
                stack.enter_context(chatorch(tmp_path, role="worker", **settings))

                # Thawed as soon as the takeover's reset arrives; a stream that never
                # ends fails the test.
                def thaw_at_takeover(event: Event) -> None:
                    if event.event == "reset":
                        frozen.process.send_signal(signal.SIGCONT)

                reading = read_stream(
                    gateway.url, path, after=before[-1].id, on_event=thaw_at_takeover
                )
                after = asyncio.run(asyncio.wait_for(reading, 30))
            finally:
                frozen.process.send_signal(signal.SIGCONT)
            time.sleep(2)  # whatever the thawed worker does, it has done
            chat_id = accepted["message"]["chat_id"]
            history = asyncio.run(read_history(gateway.url, chat_id))
            again = asyncio.run(read_stream(gateway.url, path))
        assert [e.data["attempt"] for e in after if e.event == "reset"] == [2]
        assert after[-1].event == "done"
        assert [(m["role"], m["status"]) for m in history] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert history[1]["metadata"]["attempt"] == 2
        assert history[1]["content"] == text_of(after)  # what the client was shown
        assert again[-1].event == "done"  # a stream opened later ends too
        assert text_of(again) == history[1]["content"]
