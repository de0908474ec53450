"""The Bus contract: every adapter (memory now, NATS next) passes this suite."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import nats
import pytest

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.adapters.nats.bus import NatsBus
from chatorch.domain.events import Cursor, EventKind, StreamEvent, WorkItem
from chatorch.domain.ids import new_id
from chatorch.ports.bus import Bus, Delivery
from tests.contract.conftest import nats_namespace
from tests.services import NATS_URL


@pytest.fixture(params=["memory", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = InMemoryBus()
        yield memory
        await memory.close()
        return
    async with nats_namespace() as namespace:
        adapter = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        yield adapter
        await adapter.close()


def _item() -> WorkItem:
    return WorkItem(message_id=new_id(), chat_id=new_id(), response_id=new_id())


def _token(chat_id: UUID, response_id: UUID, seq: int) -> StreamEvent:
    return StreamEvent(EventKind.TOKEN, chat_id, response_id, seq, {"text": f"t{seq} "})


async def _take(events: AsyncIterator[StreamEvent], count: int) -> list[StreamEvent]:
    return [await asyncio.wait_for(anext(events), timeout=5) for _ in range(count)]


@pytest.fixture
def deliveries(bus: Bus) -> AsyncIterator[Delivery]:
    return aiter(bus.deliveries())


async def _next(deliveries: AsyncIterator[Delivery], timeout: float = 5.0) -> Delivery:
    return await asyncio.wait_for(anext(deliveries), timeout)


class TestWorkQueue:
    async def test_items_arrive_in_order(
        self, bus: Bus, deliveries: AsyncIterator[Delivery]
    ) -> None:
        items = [_item() for _ in range(3)]
        for item in items:
            await bus.enqueue(item)
        received = []
        for _ in items:
            delivery = await _next(deliveries)
            received.append(delivery.item)
            await delivery.ack()
        assert received == items

    async def test_a_repeated_item_is_dropped(
        self, bus: Bus, deliveries: AsyncIterator[Delivery]
    ) -> None:
        first, other = _item(), _item()
        await bus.enqueue(first)
        await bus.enqueue(first)
        await bus.enqueue(other)
        got = [await _next(deliveries) for _ in range(2)]
        assert [d.item for d in got] == [first, other]

    async def test_nak_delivers_again_and_counts(
        self, bus: Bus, deliveries: AsyncIterator[Delivery]
    ) -> None:
        item = _item()
        await bus.enqueue(item)
        first = await _next(deliveries)
        assert first.delivery_count == 1
        await first.nak()
        again = await _next(deliveries)
        assert again.item == item
        assert again.delivery_count == 2
        await again.ack()

    async def test_acked_item_is_not_delivered_again(
        self, bus: Bus, deliveries: AsyncIterator[Delivery]
    ) -> None:
        item = _item()
        await bus.enqueue(item)
        delivery = await _next(deliveries)
        await delivery.ack()
        await delivery.nak()  # too late: already settled
        with pytest.raises(TimeoutError):
            await _next(deliveries, timeout=0.3)

    async def test_closed_deliveries_hand_back_what_they_did_not_yield(self, bus: Bus) -> None:
        items = [_item() for _ in range(3)]
        for item in items:
            await bus.enqueue(item)
        stopping = bus.deliveries()  # a worker that stops after taking one item
        taken = await _next(stopping)
        await stopping.aclose()
        successor = bus.deliveries()
        try:
            # Well before the ack wait (3 s): they were handed back, never started. (On
            # NATS, once the stopped worker's requests have expired, within a second.)
            got = [(await _next(successor, timeout=2.0)).item for _ in range(2)]
        finally:
            await successor.aclose()
        assert taken.item == items[0]
        assert got == items[1:]


class TestEventStream:
    async def test_live_subscriber_gets_events_in_order(self, bus: Bus) -> None:
        chat, response = new_id(), new_id()
        async with bus.subscribe(chat) as events:
            for seq in range(5):
                await bus.publish(_token(chat, response, seq))
            got = await _take(events, 5)
        assert [e.seq for e in got] == [0, 1, 2, 3, 4]
        assert got[0].data == {"text": "t0 "}

    async def test_other_chats_events_are_not_delivered(self, bus: Bus) -> None:
        chat, elsewhere, response = new_id(), new_id(), new_id()
        async with bus.subscribe(chat) as events:
            await bus.publish(_token(elsewhere, response, 0))
            await bus.publish(_token(chat, response, 1))
            (only,) = await _take(events, 1)
        assert only.chat_id == chat

    async def test_every_stream_open_on_a_chat_gets_its_events(self, bus: Bus) -> None:
        chat, elsewhere, response = new_id(), new_id(), new_id()
        async with (
            bus.subscribe(chat) as first,
            bus.subscribe(chat) as second,
            bus.subscribe(elsewhere) as other,
        ):
            await bus.publish(_token(chat, response, 0))
            await bus.publish(_token(elsewhere, response, 1))
            assert [e.seq for e in await _take(first, 1)] == [0]
            assert [e.seq for e in await _take(second, 1)] == [0]
            assert [e.seq for e in await _take(other, 1)] == [1]
        async with bus.subscribe(chat) as later:  # a closed stream took nothing with it
            await bus.publish(_token(chat, response, 2))
            assert [e.seq for e in await _take(later, 1)] == [2]

    async def test_replay_after_a_cursor_yields_exactly_the_later_events(self, bus: Bus) -> None:
        chat, response = new_id(), new_id()
        for seq in range(6):
            await bus.publish(_token(chat, response, seq))
        async with bus.subscribe(chat, after=Cursor(response, 2)) as events:
            await bus.publish(_token(chat, response, 6))
            got = await _take(events, 4)
        assert [e.seq for e in got] == [3, 4, 5, 6]

    async def test_replay_from_the_start_of_a_finished_response(self, bus: Bus) -> None:
        chat, earlier, response = new_id(), new_id(), new_id()
        await bus.publish(_token(chat, earlier, 0))
        for seq in range(3):
            await bus.publish(_token(chat, response, seq))
        async with bus.subscribe(chat, after=Cursor(response, -1)) as events:
            got = await _take(events, 3)
        assert [(e.response_id, e.seq) for e in got] == [(response, s) for s in range(3)]

    async def test_replay_of_an_unknown_response_yields_only_live_events(self, bus: Bus) -> None:
        chat, response = new_id(), new_id()
        await bus.publish(_token(chat, response, 0))
        async with bus.subscribe(chat, after=Cursor(new_id(), 3)) as events:
            await bus.publish(_token(chat, response, 1))
            (only,) = await _take(events, 1)
        assert only.seq == 1

    async def test_a_cancelled_wait_loses_no_event(self, bus: Bus) -> None:
        chat, response = new_id(), new_id()
        async with bus.subscribe(chat) as events:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await anext(events)
            await bus.publish(_token(chat, response, 0))
            (got,) = await _take(events, 1)
        assert got.seq == 0

    async def test_logged_returns_one_responses_later_events(self, bus: Bus) -> None:
        chat, response, other = new_id(), new_id(), new_id()
        for seq in range(5):
            await bus.publish(_token(chat, response, seq))
            await bus.publish(_token(chat, other, seq))
        got = await bus.logged(chat, response, after_seq=2)
        assert [(e.response_id, e.seq) for e in got] == [(response, 3), (response, 4)]
        assert await bus.logged(chat, new_id(), after_seq=-1) == []

    async def test_last_seq(self, bus: Bus) -> None:
        chat, response = new_id(), new_id()
        assert await bus.last_seq(chat, response) == -1
        for seq in range(4):
            await bus.publish(_token(chat, response, seq))
        await bus.publish(_token(chat, new_id(), 9))
        assert await bus.last_seq(chat, response) == 3
        assert await bus.last_seq(chat, new_id()) == -1  # a response with no events yet

    async def test_forgetting_a_chat_ends_its_streams_and_drops_its_log(self, bus: Bus) -> None:
        chat, kept, response = new_id(), new_id(), new_id()
        for seq in range(3):
            await bus.publish(_token(chat, response, seq))
            await bus.publish(_token(kept, response, seq))
        async with (
            bus.subscribe(chat) as live,
            bus.subscribe(chat, after=Cursor(response, 0)) as replayed,
        ):
            assert [e.seq for e in await _take(replayed, 2)] == [1, 2]
            await bus.forget([chat])
            for events in (live, replayed):
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(anext(events), 5)
        assert await bus.logged(chat, response, after_seq=-1) == []
        assert await bus.last_seq(chat, response) == -1
        assert [e.seq for e in await bus.logged(kept, response, after_seq=-1)] == [0, 1, 2]
        async with bus.subscribe(chat, after=Cursor(response, -1)) as again:
            with pytest.raises((StopAsyncIteration, TimeoutError)):  # nothing comes back
                await asyncio.wait_for(anext(again), 0.5)


class TestAnnouncements:
    async def test_an_announcement_reaches_the_listeners(self, bus: Bus) -> None:
        heard: list[str] = []
        arrived = asyncio.Event()

        def listener(topic: str) -> None:
            heard.append(topic)
            arrived.set()

        bus.on_announce(listener)
        await bus.announce("prompts")
        await asyncio.wait_for(arrived.wait(), 5)
        assert heard == ["prompts"]


async def test_on_nats_every_process_hears_an_announcement() -> None:
    async with nats_namespace() as namespace, nats_namespace() as other:
        here = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        there = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        elsewhere = await NatsBus.connect(NATS_URL, namespace=other, log_seconds=60)
        heard: dict[str, list[str]] = {"there": [], "elsewhere": []}
        arrived = asyncio.Event()
        there.on_announce(lambda topic: (heard["there"].append(topic), arrived.set()))
        elsewhere.on_announce(heard["elsewhere"].append)
        try:
            await here.announce("prompts")
            await asyncio.wait_for(arrived.wait(), 5)
            await asyncio.sleep(0.2)
            assert heard == {"there": ["prompts"], "elsewhere": []}  # its namespace only
        finally:
            for bus in (here, there, elsewhere):
                await bus.close()


async def test_an_unreadable_event_on_nats_is_skipped_not_fatal_to_the_streams() -> None:
    async with nats_namespace() as namespace:
        bus = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        other = await nats.connect(NATS_URL)
        try:
            chat, response = new_id(), new_id()
            async with bus.subscribe(chat) as events:
                subject = f"{namespace}.events.{chat}.{response}"
                await other.publish(subject, b'{"kind": "token", "not": "an event"}')
                await other.flush()
                await bus.publish(_token(chat, response, 0))
                (got,) = await _take(events, 1)
            assert got == _token(chat, response, 0)
        finally:
            await other.close()
            await bus.close()
