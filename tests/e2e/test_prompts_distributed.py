"""A prompt version put through a gateway reaches the answers of every worker, as
separate processes on PostgreSQL and NATS."""

import asyncio
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from chatorch.services.prompts import RECHECK
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import CHATORCH, chatorch
from tests.services import NATS_URL, POSTGRES_URL, drop_nats_streams, postgres_admin, require


@pytest.fixture
def deployment() -> Iterator[dict[str, str]]:
    """The settings of one deployment: a database and a NATS namespace of its own."""
    require("PostgreSQL", "127.0.0.1", 5432)
    require("NATS", "127.0.0.1", 4222)
    suffix = secrets.token_hex(4)
    database = f"chatorch_prompts_{suffix}"
    asyncio.run(postgres_admin(f"CREATE DATABASE {database}"))
    settings = {
        "database_url": POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
        "bus_url": NATS_URL,
        "namespace": f"prompts-{suffix}",
    }
    env = {"PATH": "/usr/bin:/bin", **{f"CHATORCH_{k.upper()}": v for k, v in settings.items()}}
    try:
        subprocess.run([str(CHATORCH), "migrate"], env=env, check=True, capture_output=True)
        yield settings
    finally:
        asyncio.run(drop_nats_streams(settings["namespace"]))
        asyncio.run(postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


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
        self, tmp_path: Path, deployment: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **deployment))
            for _ in range(2):
                stack.enter_context(chatorch(tmp_path, role="worker", **deployment))
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
