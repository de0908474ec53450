"""Stop and Cancellations: a cancel interrupts an answer's waits, and only those."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.domain.ids import new_id
from chatorch.pipeline.cancel import TOPIC, AnswerCancelled, Cancellations, Stop


class TestStop:
    async def test_a_cancel_interrupts_a_wait_at_once(self) -> None:
        stop = Stop()
        waiting = asyncio.create_task(stop.wait_for(asyncio.sleep(3600)))
        await asyncio.sleep(0.01)
        stop.request()
        with pytest.raises(AnswerCancelled):
            await asyncio.wait_for(waiting, 1)

    async def test_a_cancel_before_the_wait_starts_nothing(self) -> None:
        stop, started = Stop(), []

        async def work() -> None:
            started.append(True)

        stop.request()
        with pytest.raises(AnswerCancelled):
            await stop.wait_for(work())
        assert started == []

    async def test_a_shutdown_stays_a_shutdown(self) -> None:
        stop = Stop()
        waiting = asyncio.create_task(stop.wait_for(asyncio.sleep(3600)))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    async def test_a_cancelled_stream_is_closed(self) -> None:
        stop, closed = Stop(), []

        async def model() -> AsyncIterator[str]:
            try:
                yield "Hel"
                await asyncio.sleep(3600)  # a slow model: the next chunk never comes
                yield "lo"
            finally:
                closed.append(True)

        read: list[str] = []

        async def consume() -> None:
            async for chunk in stop.chunks(model()):
                read.append(chunk)

        consuming = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        stop.request()
        with pytest.raises(AnswerCancelled):
            await asyncio.wait_for(consuming, 1)
        assert read == ["Hel"]
        assert closed == [True]

    async def test_work_between_waits_is_never_interrupted(self) -> None:
        stop, finished = Stop(), []

        async def answer() -> None:
            await stop.wait_for(asyncio.sleep(0))
            stop.request()  # heard while publishing, say
            await asyncio.sleep(0.01)
            finished.append("published")
            await stop.wait_for(asyncio.sleep(3600))

        with pytest.raises(AnswerCancelled):
            await asyncio.wait_for(answer(), 1)
        assert finished == ["published"]


class TestCancellations:
    async def test_an_announcement_stops_the_answer_it_names(self) -> None:
        bus = InMemoryBus()
        cancellations = Cancellations(bus)
        mine, other = new_id(), new_id()
        with cancellations.watching(mine) as stop, cancellations.watching(other) as untouched:
            await bus.announce(f"{TOPIC}{mine}")
            await bus.announce("cancel:not-an-id")
            await bus.announce("prompts")
        assert stop.requested
        assert not untouched.requested

    async def test_an_answer_no_longer_made_is_forgotten(self) -> None:
        bus = InMemoryBus()
        cancellations = Cancellations(bus)
        response_id = new_id()
        with cancellations.watching(response_id) as stop:
            pass
        await bus.announce(f"{TOPIC}{response_id}")
        assert not stop.requested
