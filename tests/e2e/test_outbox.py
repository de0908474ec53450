"""The outbox: a message accepted while NATS is unreachable is answered once it is back."""

import asyncio
import secrets
from pathlib import Path

import httpx

from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import Chatorch
from tests.fixtures.tcp_proxy import tcp_proxy
from tests.services import drop_nats_streams, require


class TestOutbox:
    async def test_a_message_accepted_during_an_outage_is_answered_after_it(
        self, tmp_path: Path
    ) -> None:
        require("NATS", "127.0.0.1", 4222)
        namespace = f"outbox-{secrets.token_hex(4)}"
        async with tcp_proxy("127.0.0.1", 4222) as proxy:
            settings = {"bus_url": f"nats://127.0.0.1:{proxy.port}", "namespace": namespace}
            server = await asyncio.to_thread(Chatorch, tmp_path, **settings)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                    chat = (await http.post("/v1/chats", json={})).json()
                    url = f"/v1/chats/{chat['id']}/messages"
                    await proxy.cut()
                    response = await http.post(url, json={"content": "what is 5*5?"})
                assert response.status_code == 202
                accepted = response.json()
                history = await read_history(server.url, chat["id"])
                assert [(m["role"], m["status"]) for m in history] == [("user", "pending")]
                await proxy.restore()
                events = await read_stream(server.url, accepted["events_url"])
                history = await read_history(server.url, chat["id"])
            finally:
                await asyncio.to_thread(server.stop)
                await drop_nats_streams(namespace)
        assert events[-1].event == "done"
        assert [(m["role"], m["status"]) for m in history] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert "25" in str(history[1]["content"])
