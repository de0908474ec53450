"""A process stores a bot's answer and dies before Telegram shows it: after a restart,
the stored answer reaches Telegram, once, and nothing stays owed."""

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from tests.conftest import remember
from tests.e2e.processes import chatorch, fake_openai
from tests.fixtures.fake_telegram import fake_telegram, update

TOKEN = remember("424242:AAHrecovery-telegram-token")
SECRET = remember("recovery-secret_1")
ANSWER = " ".join(f"tok{n}" for n in range(12))


def _rows(workdir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(workdir / "data" / "chatorch.db") as db:
        return db.execute(sql).fetchall()


async def _until(check: "object", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):  # type: ignore[arg-type]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


class TestOwedAnswers:
    async def test_an_answer_stored_but_not_shown_is_shown_after_a_restart(
        self, tmp_path: Path
    ) -> None:
        async with fake_telegram() as api:
            # Telegram makes the first send wait a minute: the answer is stored meanwhile.
            api.refuse("sendMessage", status=429, retry_after=60)
            with fake_openai() as upstream:
                settings = {
                    "llm": "openai:fake-tokens-12",
                    "openai_base_url": upstream,
                    "secret_keys": remember(Fernet.generate_key().decode()),
                    "telegram_api_url": api.url,
                }
                with chatorch(tmp_path, **settings) as first:
                    async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
                        made = await client.post(
                            "/v1/bots",
                            json={
                                "platform": "telegram",
                                "name": "support",
                                "credentials": {"token": TOKEN, "secret_token": SECRET},
                            },
                        )
                        assert made.status_code == 201, made.text
                        sent = await client.post(
                            made.json()["webhook_url"],
                            json=update(1, "hi"),
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        )
                        assert sent.status_code == 200
                    await _until(
                        lambda: _rows(
                            tmp_path, "SELECT content FROM messages WHERE role='assistant'"
                        )
                    )
                    assert _rows(tmp_path, "SELECT count(*) FROM bot_deliveries") == [(1,)]
                    first.kill()
                assert [c["ok"] for c in api.calls if c["method"] == "sendMessage"] == [False]
                with chatorch(tmp_path, **settings):
                    await _until(lambda: api.called_ok("sendMessage"))
                    await _until(
                        lambda: _rows(tmp_path, "SELECT count(*) FROM bot_deliveries") == [(0,)]
                    )
        shown = [c["params"]["text"] for c in api.called_ok("sendMessage", "editMessageText")]
        assert shown == [ANSWER]  # the stored answer, once
        assert _rows(tmp_path, "SELECT content FROM messages WHERE role='assistant'") == [(ANSWER,)]
