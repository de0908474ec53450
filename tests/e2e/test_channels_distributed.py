"""A Telegram bot on gateways and workers: the gateway that took the webhook dies at
once, and the answer still reaches Telegram, once, from the worker."""

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx
from cryptography.fernet import Fernet

from tests.conftest import remember
from tests.e2e.processes import chatorch, fake_openai
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture
from tests.fixtures.fake_telegram import fake_telegram, update

TOKEN = remember("987654:AAHdistributed-telegram-token")
SECRET = remember("distributed-secret_1")
SLOW = "openai:fake-slow-40-tokens-40"  # about 1.6 s of answer


async def _stored_answers(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT content FROM messages WHERE role = 'assistant' ORDER BY id"
        )
    finally:
        await connection.close()
    return [row["content"] for row in rows]


class TestTelegramAcrossProcesses:
    async def test_the_gateway_dies_after_the_webhook_and_the_answer_still_arrives(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        async with fake_telegram() as api:
            with ExitStack() as stack:
                upstream = stack.enter_context(fake_openai())
                settings = {
                    **shared,
                    "llm": SLOW,
                    "openai_base_url": upstream,
                    "secret_keys": remember(Fernet.generate_key().decode()),
                    "telegram_api_url": api.url,
                }
                start = lambda role: stack.enter_context(  # noqa: E731
                    chatorch(tmp_path, role=role, **settings)
                )
                gateway = await asyncio.to_thread(start, "gateway")
                await asyncio.to_thread(start, "worker")
                async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
                    made = await client.post(
                        "/v1/bots",
                        json={
                            "platform": "telegram",
                            "name": "support",
                            "credentials": {"token": TOKEN, "secret_token": SECRET},
                        },
                    )
                    assert made.status_code == 201, made.text
                    webhook = made.json()["webhook_url"]
                    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    sent = await client.post(webhook, json=update(1, "hi"), headers=headers)
                    assert sent.status_code == 200
                await asyncio.to_thread(gateway.kill)  # before the answer is made
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    answers = await _stored_answers(shared["database_url"])
                    settled = api.calls and time.monotonic() - api.calls[-1]["at"] > 1.5
                    if answers and settled:
                        break
                    await asyncio.sleep(0.2)
        (answer,) = answers
        assert answer == " ".join(f"tok{n}" for n in range(40))
        texts = [c["params"]["text"] for c in api.calls if c["ok"] and "text" in c["params"]]
        assert texts[-1] == answer  # the final text is the stored answer
        assert len([c for c in api.calls if c["method"] == "sendMessage"]) == 1
