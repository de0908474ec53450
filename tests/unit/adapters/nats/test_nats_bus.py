"""What only the NATS bus does: encode every event for the wire, bound deliveries."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from chatorch.adapters.nats.bus import NatsBus
from chatorch.domain.events import Cursor, EventKind, StreamEvent, WorkItem
from chatorch.domain.ids import new_id
from tests.contract.conftest import nats_namespace
from tests.fixtures.tcp_proxy import tcp_proxy
from tests.services import NATS_URL


def _events(chat: UUID, response: UUID) -> list[StreamEvent]:
    """One event of each kind, with data as the pipeline sends it, and awkward text."""
    data: dict[EventKind, dict[str, Any]] = {
        EventKind.TOKEN: {"text": 'Zürich — 数 "quoted"\n✓'},
        EventKind.STEP: {"stage": "act", "detail": {"tools": ["calculator"], "ms": 1.5}},
        EventKind.RESET: {"attempt": 2},
        EventKind.DONE: {
            "message_id": str(new_id()),
            "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
        },
        EventKind.ERROR: {"code": "stalled", "detail": None},
    }
    assert set(data) == set(EventKind)  # a new kind must be added here
    return [StreamEvent(kind, chat, response, seq, data[kind]) for seq, kind in enumerate(data)]


@pytest.fixture
async def bus() -> AsyncIterator[NatsBus]:
    async with nats_namespace() as namespace:
        adapter = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        try:
            yield adapter
        finally:
            await adapter.close()


async def _take(events: AsyncIterator[StreamEvent], count: int) -> list[StreamEvent]:
    return [await asyncio.wait_for(anext(events), timeout=5) for _ in range(count)]


class TestEncoding:
    """Events cross NATS as JSON: each kind must come back as it was published."""

    async def test_every_kind_arrives_live_as_published(self, bus: NatsBus) -> None:
        chat, response = new_id(), new_id()
        sent = _events(chat, response)
        async with bus.subscribe(chat) as events:
            for event in sent:
                await bus.publish(event)
            assert await _take(events, len(sent)) == sent

    async def test_every_kind_is_replayed_from_the_log_as_published(self, bus: NatsBus) -> None:
        chat, response = new_id(), new_id()
        sent = _events(chat, response)
        for event in sent:
            await bus.publish(event)
        assert await bus.logged(chat, response, after_seq=-1) == sent
        async with bus.subscribe(chat, after=Cursor(response, -1)) as events:
            assert await _take(events, len(sent)) == sent


class TestMaxDeliver:
    async def test_the_last_delivery_says_it_is_final(self) -> None:
        async with nats_namespace() as namespace:
            bus = await NatsBus.connect(
                NATS_URL, namespace=namespace, log_seconds=60, max_deliver=2
            )
            try:
                await bus.enqueue(WorkItem(new_id(), new_id(), new_id()))
                deliveries = aiter(bus.deliveries())
                first = await asyncio.wait_for(anext(deliveries), 10)
                assert not first.final
                await first.nak()
                second = await asyncio.wait_for(anext(deliveries), 10)
                assert second.delivery_count == 2
                assert second.final
                await second.ack()
            finally:
                await bus.close()


class TestLostEvents:
    """A plain publish is not acknowledged: one written as the connection broke may never
    reach the log. Before an answer's last event, what the log lacks is sent again."""

    async def test_events_the_log_lacks_after_an_outage_are_sent_again(self) -> None:
        async with (
            nats_namespace() as namespace,
            tcp_proxy("127.0.0.1", int(NATS_URL.rsplit(":", 1)[1])) as proxy,
        ):
            url = f"nats://127.0.0.1:{proxy.port}"
            bus = await NatsBus.connect(url, namespace=namespace, log_seconds=60)
            try:
                chat, response = new_id(), new_id()
                events = [
                    StreamEvent(EventKind.TOKEN, chat, response, seq, {"text": f"t{seq} "})
                    for seq in range(3)
                ]
                since = time.monotonic()
                assert await bus.confirm_logged(events, since=since) == 0  # nothing broke
                await bus.publish(events[0])
                await bus.publish(events[2])  # the one between was lost on the way
                await bus.client.flush()  # these two are logged
                await proxy.cut()
                await asyncio.sleep(0.3)
                await proxy.restore()
                for _ in range(100):  # reconnected
                    if bus.client.is_connected:
                        break
                    await asyncio.sleep(0.05)
                assert await bus.confirm_logged(events, since=since) == 1
                logged = await bus.logged(chat, response, after_seq=-1)
            finally:
                await bus.close()
        assert sorted(event.seq for event in logged) == [0, 1, 2]
