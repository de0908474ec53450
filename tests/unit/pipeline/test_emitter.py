"""The Emitter: tokens coalesced into few events, none lost, the first sent at once."""

import asyncio
from uuid import UUID

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.domain.events import EventKind, StreamEvent
from chatorch.domain.ids import new_id
from chatorch.pipeline.emitter import Emitter

WINDOW = 0.05  # s


def emitter_on(bus: InMemoryBus, chat_id: UUID, response_id: UUID) -> Emitter:
    return Emitter(bus, chat_id=chat_id, response_id=response_id, first_seq=0, coalesce=WINDOW)


async def published(bus: InMemoryBus, chat_id: UUID, response_id: UUID) -> list[StreamEvent]:
    return await bus.logged(chat_id, response_id, after_seq=-1)


async def test_the_first_text_goes_out_at_once_and_the_rest_in_one_event() -> None:
    bus, chat_id, response_id = InMemoryBus(), new_id(), new_id()
    emitter = emitter_on(bus, chat_id, response_id)
    await emitter.token("Hel")
    assert [e.data["text"] for e in await published(bus, chat_id, response_id)] == ["Hel"]
    for text in ("lo", ", ", "world"):  # within one window: held back
        await emitter.token(text)
    assert len(await published(bus, chat_id, response_id)) == 1
    await emitter.done(new_id(), {})
    events = await published(bus, chat_id, response_id)
    assert [e.kind for e in events] == [EventKind.TOKEN, EventKind.TOKEN, EventKind.DONE]
    assert events[1].data["text"] == "lo, world"
    assert [e.seq for e in events] == [0, 1, 2]


async def test_held_text_goes_out_when_its_window_ends() -> None:
    bus, chat_id, response_id = InMemoryBus(), new_id(), new_id()
    emitter = emitter_on(bus, chat_id, response_id)
    await emitter.token("a")
    await emitter.token("b")  # held, with a timer for the rest of the window
    await asyncio.sleep(WINDOW * 3)
    texts = [e.data["text"] for e in await published(bus, chat_id, response_id)]
    assert texts == ["a", "b"]


async def test_done_sends_held_text_first_and_nothing_follows_it() -> None:
    bus, chat_id, response_id = InMemoryBus(), new_id(), new_id()
    emitter = emitter_on(bus, chat_id, response_id)
    await emitter.token("a")
    await emitter.token("b")  # held, its timer set
    await emitter.done(new_id(), {})
    await asyncio.sleep(WINDOW * 3)  # the timer was cancelled: no late, empty event
    events = await published(bus, chat_id, response_id)
    assert [e.kind for e in events] == [EventKind.TOKEN, EventKind.TOKEN, EventKind.DONE]
    assert [e.data.get("text") for e in events[:2]] == ["a", "b"]
