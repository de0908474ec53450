"""A worker's pull on the shared work queue, on a real NATS server: each item handed
over as it comes, no more taken than the worker can start, nothing left to wait
unheard while its ack wait runs out, and the pull kept alive through a lost connection
and a deleted consumer."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from chatorch.adapters.nats.bus import Names, NatsBus
from chatorch.adapters.nats.pull import WorkPull
from chatorch.domain.events import WorkItem
from chatorch.domain.ids import new_id
from tests.contract.conftest import nats_namespace
from tests.fixtures.tcp_proxy import tcp_proxy
from tests.services import NATS_URL


@asynccontextmanager
async def _queue(*, ack_wait: float = 3.0) -> AsyncIterator[NatsBus]:
    """A work queue of this test's own, with its workers' consumer."""
    async with nats_namespace() as namespace:
        bus = await NatsBus.connect(NATS_URL, namespace=namespace, log_seconds=60)
        names = Names(namespace)
        config = ConsumerConfig(
            durable_name=names.workers, filter_subject=names.work_subject, ack_wait=ack_wait
        )
        await bus.client.jetstream().add_consumer(names.work_stream, config)
        try:
            yield bus
        finally:
            await bus.close()


@asynccontextmanager
async def _pull(
    bus: NatsBus, *, room: Callable[[], int] = lambda: 16, hold: float = 10.0, **knobs: float
) -> AsyncIterator[WorkPull]:
    names = Names(bus.describe()["namespace"])
    pull = WorkPull(
        bus.client,
        stream=names.work_stream,
        consumer=names.workers,
        batch=16,
        room=room,
        hold=hold,
        **knobs,
    )
    await pull.open()
    try:
        yield pull
    finally:
        await pull.close()


def _item() -> WorkItem:
    return WorkItem(new_id(), new_id(), new_id())


def _item_of(message: Msg) -> WorkItem:
    return WorkItem.from_json(message.data)


async def _next(pull: WorkPull, timeout: float) -> Msg:
    return await asyncio.wait_for(pull.next(), timeout)


class TestHandingOver:
    async def test_a_lone_item_is_handed_over_as_it_comes_not_when_a_batch_fills(self) -> None:
        async with _queue() as bus, _pull(bus, expires=2.0) as pull:
            waiting = asyncio.create_task(pull.next())
            for n in range(4):
                await asyncio.sleep(2.5 if n == 3 else 0.3)  # the last after a request expired
                item = _item()
                sent = time.monotonic()
                await bus.enqueue(item)
                message = await (waiting if n == 0 else _next(pull, 5.0))
                waited = time.monotonic() - sent
                assert _item_of(message) == item
                assert waited < 0.5, f"item {n} waited {waited:.2f} s for company"
                await message.ack()

    async def test_no_more_is_taken_than_the_worker_has_room_for(self) -> None:
        """A worker with room for one takes one: the rest go to a worker with room."""
        async with _queue() as bus:
            items = [_item() for _ in range(3)]
            for item in items:
                await bus.enqueue(item)
            async with _pull(bus, room=lambda: 1) as full, _pull(bus) as idle:
                assert _item_of(await _next(full, 5.0)) == items[0]
                await asyncio.sleep(0.2)  # time to take more, if it would
                # At once, not after the ack wait (3 s): the full worker never took them.
                rest = [_item_of(await _next(idle, 1.5)) for _ in range(2)]
        assert rest == items[1:]

    async def test_an_item_left_waiting_past_the_hold_is_skipped_and_comes_again(self) -> None:
        """Started this late, its ack wait near its end, it would be answered twice."""
        async with _queue(ack_wait=1.0) as bus, _pull(bus, hold=0.3) as pull:
            first, late = _item(), _item()
            await bus.enqueue(first)
            await (await _next(pull, 5.0)).ack()
            await bus.enqueue(late)
            await asyncio.sleep(0.6)  # it came meanwhile, and waited
            again = await _next(pull, 5.0)
        assert _item_of(again) == late
        assert again.metadata.num_delivered == 2  # given out again, not started stale


class TestKeptAlive:
    async def test_a_pull_goes_on_after_its_connection_was_lost(self) -> None:
        nats_port = int(NATS_URL.rsplit(":", 1)[1])
        async with (
            _queue() as producer,
            tcp_proxy("127.0.0.1", nats_port) as proxy,
        ):
            worker = await NatsBus.connect(
                f"nats://127.0.0.1:{proxy.port}",
                namespace=producer.describe()["namespace"],
                log_seconds=60,
            )
            try:
                async with _pull(worker) as pull:
                    waiting = asyncio.create_task(pull.next())
                    await asyncio.sleep(0.3)  # its request is open
                    await proxy.cut()  # the request dies with the connection, unanswered
                    await asyncio.sleep(0.3)
                    await proxy.restore()
                    item = _item()
                    await producer.enqueue(item)
                    got = await asyncio.wait_for(waiting, 5.0)
            finally:
                await worker.close()
        assert _item_of(got) == item

    async def test_a_deleted_consumer_is_made_again(self) -> None:
        async with _queue() as bus:
            deliveries = bus.deliveries()
            try:
                first, second = _item(), _item()
                await bus.enqueue(first)
                delivery = await asyncio.wait_for(anext(deliveries), 5.0)
                await delivery.ack()
                names = Names(bus.describe()["namespace"])
                await bus.client.jetstream().delete_consumer(names.work_stream, names.workers)
                await bus.enqueue(second)
                got = []  # ``first`` again too, if its ack raced the deletion
                while second not in got:
                    again = await asyncio.wait_for(anext(deliveries), 5.0)
                    got.append(again.item)
                    await again.ack()
            finally:
                await deliveries.aclose()
        assert delivery.item == first
        assert set(got) <= {first, second}
