"""PostgreSQL connections are checked only after a rest: no round trip per transaction,
and a server that went away while they rested costs no request."""

import asyncio
from uuid import uuid4

import pytest

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import PING_AFTER_REST, SqlStore, connect
from chatorch.domain.errors import StoreUnavailable
from tests.fixtures.tcp_proxy import tcp_proxy
from tests.services import fresh_database, require


async def _read(store: SqlStore) -> None:
    async with store.transaction(durable=False) as tx:
        await tx.chats.get_chat(uuid4())


class TestRestedConnections:
    async def test_connections_broken_while_resting_are_replaced_unseen(self) -> None:
        require("PostgreSQL", "127.0.0.1", 5432)
        async with fresh_database() as direct, tcp_proxy("127.0.0.1", 5432) as proxy:
            await asyncio.to_thread(upgrade, direct)
            url = direct.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            store = await connect(url)
            try:
                await _read(store)  # a pooled connection, through the proxy
                await proxy.cut()  # the server "restarts": the connection is dead
                await proxy.restore()
                await asyncio.sleep(PING_AFTER_REST + 0.1)
                await _read(store)  # pinged on checkout, replaced: no error
                await proxy.cut()
                await proxy.restore()
                with pytest.raises(StoreUnavailable):  # used a moment ago: not pinged
                    await _read(store)
                await _read(store)  # and the pool replaced it after that one failure
            finally:
                await store.close()
