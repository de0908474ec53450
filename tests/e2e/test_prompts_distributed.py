"""A prompt version put through a gateway reaches the answers of every worker, as
separate processes on PostgreSQL and NATS."""

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from chatorch.services.prompts import RECHECK
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import chatorch
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture


async def _prompts_of_answers(url: str, *, count: int) -> list[str]:
    """Ask ``count`` questions at once, each in a chat of its own; the ``metadata.prompt``
    of each answer."""

    async def one(http: httpx.AsyncClient, n: int) -> str:
        chat = (await http.post("/v1/chats", json={})).json()
        body = {"content": f"what is {n}+{n}?"}
        accepted = (await http.post(f"/v1/chats/{chat['id']}/messages", json=body)).json()
        events = await read_stream(url, accepted["events_url"])
        assert events[-1].event == "done", events[-1]
        history = await read_history(url, chat["id"])
        metadata = history[-1]["metadata"]
        assert isinstance(metadata, dict)
        return str(metadata["prompt"])

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return list(await asyncio.gather(*(one(http, n) for n in range(count))))


class TestAcrossProcesses:
    def test_a_version_put_on_the_gateway_is_used_by_every_worker(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **shared))
            for _ in range(2):
                stack.enter_context(chatorch(tmp_path, role="worker", **shared))
            before = asyncio.run(_prompts_of_answers(gateway.url, count=4))
            made = httpx.put(
                f"{gateway.url}/v1/prompts/system",
                json={"template": "You are Zed. Today is {{ today }}."},
            )
            assert made.status_code == 201, made.text
            time.sleep(RECHECK + 0.3)  # the longest a worker may keep the old version
            after = asyncio.run(_prompts_of_answers(gateway.url, count=8))
        assert before == ["system@1"] * 4
        assert after == ["system@2"] * 8
