"""Fan-out mailboxes: bounded for the live, unbounded for a replay, nothing lost on cancel."""

import asyncio

import pytest

from chatorch.adapters.fanout import Fanout
from chatorch.domain.events import EventKind, StreamEvent
from chatorch.domain.ids import new_id

CHAT, RESPONSE = new_id(), new_id()


def event(seq: int) -> StreamEvent:
    return StreamEvent(EventKind.TOKEN, CHAT, RESPONSE, seq, {"text": f"t{seq}"})


async def drain(box: object) -> list[int]:
    return [event.seq async for event in box]  # type: ignore[attr-defined]


async def test_each_open_mailbox_gets_its_chats_events_once() -> None:
    fanout: Fanout[str] = Fanout(limit=10)
    first, second, other = fanout.open("a"), fanout.open("a"), fanout.open("b")
    fanout.deliver("a", event(0))
    fanout.deliver("a", event(1))
    fanout.close()
    assert await drain(first) == [0, 1]
    assert await drain(second) == [0, 1]
    assert await drain(other) == []


def test_a_chat_is_watched_while_a_mailbox_is_open_on_it() -> None:
    fanout: Fanout[str] = Fanout(limit=10)
    assert not fanout.watched("a")
    box = fanout.open("a")
    assert fanout.watched("a")
    assert not fanout.watched("b")
    fanout.release("a", box)
    assert not fanout.watched("a")


async def test_ready_takes_what_has_arrived_without_waiting() -> None:
    fanout: Fanout[str] = Fanout(limit=10)
    box = fanout.open("a", [event(0)])
    assert [e.seq for e in box.ready()] == [0]
    assert box.ready() == []  # nothing more: no wait either
    fanout.deliver("a", event(1))
    fanout.deliver("a", event(2))
    assert (await anext(box)).seq == 1
    assert [e.seq for e in box.ready()] == [2]


async def test_a_subscriber_behind_by_the_limit_is_cut_off_not_buffered_forever() -> None:
    fanout: Fanout[str] = Fanout(limit=3)
    slow = fanout.open("a")
    for seq in range(5):
        fanout.deliver("a", event(seq))
    assert await drain(slow) == [0, 1, 2]  # then it ends: the client resumes from the log


async def test_a_replay_longer_than_the_limit_is_kept_whole() -> None:
    fanout: Fanout[str] = Fanout(limit=2)
    box = fanout.open("a", [event(seq) for seq in range(5)])
    box.close()
    assert await drain(box) == [0, 1, 2, 3, 4]


async def test_a_cancelled_wait_loses_nothing_and_released_boxes_get_nothing() -> None:
    fanout: Fanout[str] = Fanout(limit=10)
    box = fanout.open("a")
    waiting = asyncio.ensure_future(anext(box))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    fanout.deliver("a", event(7))
    assert (await anext(box)).seq == 7
    fanout.release("a", box)
    fanout.deliver("a", event(8))
    assert len(fanout) == 0
    box.close()
    assert await drain(box) == []
