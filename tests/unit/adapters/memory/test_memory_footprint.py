"""What the in-process adapters hold costs memory in proportion to its size, and the
event log holds a bounded number of events, however many are published.

The log holds events as objects, chat by chat, up to ``log_events_total`` in all
(about 60 MB at the default); the cache holds bytes, and orjson returns its output in
a 4 KB buffer that, held as is, would make every small cached entry cost 4 KB.
"""

import tracemalloc
from collections.abc import Iterator
from uuid import UUID, uuid4

import orjson
import pytest

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.adapters.memory.cache import InMemoryCache
from chatorch.domain.events import EventKind, StreamEvent

HELD = 2_000


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def _grown_since(before: int) -> float:
    """Bytes allocated and still held since ``before``, per held item."""
    return (tracemalloc.get_traced_memory()[0] - before) / HELD


async def _publish(bus: InMemoryBus, *, chats: int, per_chat: int) -> None:
    for _ in range(chats):
        chat_id, response_id = uuid4(), uuid4()
        for seq in range(per_chat):
            event = StreamEvent(EventKind.TOKEN, chat_id, response_id, seq, {"text": f"t{seq} "})
            await bus.publish(event)


async def test_the_event_log_memory_is_bounded_by_its_total_not_by_the_traffic(
    traced: None,
) -> None:
    bus = InMemoryBus(log_events_total=HELD)
    before = tracemalloc.get_traced_memory()[0]
    await _publish(bus, chats=HELD // 4, per_chat=4)  # the log is full
    full = tracemalloc.get_traced_memory()[0] - before
    await _publish(bus, chats=HELD, per_chat=4)  # four times as much again, other chats
    after = tracemalloc.get_traced_memory()[0] - before
    assert full / HELD < 1_024  # an event, its log entry, its chat's share of a log
    assert after < full * 1.25  # the quietest chats went as the new ones came
    described = bus.describe()
    assert described["events_logged"] <= HELD
    assert described["chats_logged"] <= HELD // 4


async def test_the_cache_holds_a_value_in_about_its_size(traced: None) -> None:
    cache = InMemoryCache()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(HELD):
        await cache.set(f"key {n}", orjson.dumps({"n": n}), ttl=60)
    assert _grown_since(before) < 1_024
    assert await cache.get("key 7") == b'{"n":7}'


async def test_the_event_log_forgets_the_quietest_chats_beyond_its_total() -> None:
    bus = InMemoryBus(log_events_total=10)
    first, second, third = uuid4(), uuid4(), uuid4()
    responses = {chat: uuid4() for chat in (first, second, third)}

    async def publish(chat: UUID, seqs: range) -> None:
        for seq in seqs:
            await bus.publish(StreamEvent(EventKind.TOKEN, chat, responses[chat], seq, {}))

    await publish(first, range(4))
    await publish(second, range(4))
    await publish(first, range(4, 5))  # the first chat speaks again: now the second is quietest
    await publish(third, range(4))  # 13 events: over the total

    async def held(chat: UUID) -> list[int]:
        return [e.seq for e in await bus.logged(chat, responses[chat], after_seq=-1)]

    assert await held(second) == []
    assert await held(first) == [0, 1, 2, 3, 4]
    assert await held(third) == [0, 1, 2, 3]
    assert bus.describe()["events_logged"] == 9


async def test_one_chat_keeps_its_latest_events_up_to_its_own_bound() -> None:
    bus = InMemoryBus(log_events_per_chat=3, log_events_total=100)
    chat_id, response_id = uuid4(), uuid4()
    for seq in range(5):
        await bus.publish(StreamEvent(EventKind.TOKEN, chat_id, response_id, seq, {}))
    logged = await bus.logged(chat_id, response_id, after_seq=-1)
    assert [event.seq for event in logged] == [2, 3, 4]
    assert bus.describe()["events_logged"] == 3  # the count the total is held to


async def test_one_chat_longer_than_the_total_keeps_its_latest_events() -> None:
    bus = InMemoryBus(log_events_total=3)
    chat_id, response_id = uuid4(), uuid4()
    for seq in range(5):
        await bus.publish(StreamEvent(EventKind.TOKEN, chat_id, response_id, seq, {}))
    logged = await bus.logged(chat_id, response_id, after_seq=-1)
    assert [event.seq for event in logged] == [2, 3, 4]
