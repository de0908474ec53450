"""The WebSocket's outbox: bounded, whatever the client's pace."""

import asyncio

from chatorch.api.ws import Outbox


class TestOutbox:
    async def test_frames_come_out_in_order(self) -> None:
        outbox = Outbox(3)
        assert outbox.put("a", event=True)
        assert outbox.put("b", event=False)
        assert [await outbox.take(), await outbox.take()] == ["a", "b"]

    async def test_a_client_past_the_bound_is_refused_not_buffered(self) -> None:
        outbox = Outbox(2)
        assert outbox.put("1", event=True)
        assert outbox.put("2", event=True)
        assert not outbox.put("3", event=True)
        assert outbox.overflowed
        assert len(outbox) == 2

    async def test_a_resume_drops_unsent_events_and_keeps_replies(self) -> None:
        outbox = Outbox(5)
        outbox.put("token", event=True)
        outbox.put("accepted", event=False)
        outbox.put("done", event=True)
        outbox.drop_events()
        assert len(outbox) == 1
        assert await outbox.take() == "accepted"

    async def test_take_waits_for_a_frame(self) -> None:
        outbox = Outbox(1)
        taking = asyncio.create_task(outbox.take())
        await asyncio.sleep(0.01)
        assert not taking.done()
        outbox.put("late", event=True)
        assert await asyncio.wait_for(taking, 1) == "late"
