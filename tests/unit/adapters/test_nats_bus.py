"""What only the NATS bus does: a bounded number of deliveries, and saying so."""

import asyncio

from chatorch.adapters.nats.bus import NatsBus
from chatorch.domain.events import WorkItem
from chatorch.domain.ids import new_id
from tests.contract.conftest import nats_namespace
from tests.services import NATS_URL


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
