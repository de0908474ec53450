"""A Telegram bot end to end: webhook in, answer streamed back by edits, against a local
Bot API that records every call (tests/fixtures/fake_telegram.py)."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from chatorch.settings import Settings
from tests.api.channels.harness import StoredAnswers
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.fake_telegram import FakeTelegram, fake_telegram, update

TOKEN = remember("123456:AAHfake-telegram-token-for-tests")
SECRET = remember("webhook-secret_123")
SIGNED = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@dataclass
class Bot(StoredAnswers):
    client: httpx.AsyncClient
    api: FakeTelegram
    settings: Settings
    webhook: str

    async def deliver(self, body: dict[str, Any], headers: dict[str, str] = SIGNED) -> int:
        response = await self.client.post(self.webhook, json=body, headers=headers)
        return response.status_code

    async def settled(self, answers: int = 1, timeout: float = 20) -> None:
        """Until ``answers`` answers are stored and the platform's last call is 1 s old."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = not self.api.calls or time.monotonic() - self.api.calls[-1]["at"] > 1.5
            if len(self.answers()) >= answers and quiet:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not settled: {self.answers()} {self.api.calls[-3:]}")

    def shown(self) -> list[str]:
        """What the person sees: each sent message's latest text, in order."""
        texts: dict[int, str] = {}
        for call in self.api.calls:
            if not call["ok"]:
                continue
            params = call["params"]
            if call["method"] == "sendMessage":
                texts[100 + len(texts)] = params["text"]
            elif call["method"] == "editMessageText":
                texts[int(params["message_id"])] = params["text"]
        return list(texts.values())


async def _bot(
    tmp_path: Path, api: FakeTelegram, *, bot: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[Bot]:
    configured = settings_for(
        tmp_path,
        secret_keys=remember(Fernet.generate_key().decode()),
        telegram_api_url=api.url,
        **settings,
    )
    async with serve(configured) as client:
        made = await client.post(
            "/v1/bots",
            json={
                "platform": "telegram",
                "name": "helper",
                "credentials": {"token": TOKEN, "secret_token": SECRET},
                **(bot or {}),
            },
        )
        assert made.status_code == 201, made.text
        yield Bot(client, api, configured, made.json()["webhook_url"])


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram() as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, api: FakeTelegram) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, api):
        yield made


class TestInbound:
    async def test_a_message_is_answered_in_its_chat(self, bot: Bot) -> None:
        assert await bot.deliver(update(1, "what is 12*7?")) == 200
        await bot.settled()
        (answer,) = bot.answers()
        assert "84" in answer
        assert bot.shown() == [answer]  # the final text is the stored answer
        sends = bot.api.called("sendMessage")
        assert sends[0]["chat_id"] == 42
        assert {call["token"] for call in bot.api.calls} == {TOKEN}

    async def test_a_forged_or_missing_secret_is_refused_and_leaves_nothing(self, bot: Bot) -> None:
        for headers in ({"X-Telegram-Bot-Api-Secret-Token": "guess"}, {}):
            assert await bot.deliver(update(1, "hello"), headers=headers) == 401
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_a_redelivered_update_is_answered_once(self, bot: Bot) -> None:
        first = update(7, "what is 2+2?")
        codes = await asyncio.gather(*(bot.deliver(first) for _ in range(3)))
        assert codes == [200, 200, 200]
        await bot.settled()
        assert await bot.deliver(first) == 200  # a resend after the answer, too
        await asyncio.sleep(1)
        assert bot.rows("SELECT count(*) FROM messages WHERE role = 'user'") == [(1,)]
        assert len(bot.answers()) == 1
        assert len(bot.api.called("sendMessage")) == 1

    async def test_updates_without_text_and_other_bots_are_ignored(self, bot: Bot) -> None:
        sticker = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADnQADlp-MDg",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        assert await bot.deliver(update(3, None, sticker=sticker)) == 200
        assert await bot.deliver({"update_id": 5, "message": {"no": "shape"}}) == 200
        robot = update(4, "hi", **{"from": {"id": 9, "is_bot": True, "first_name": "B"}})
        assert await bot.deliver(robot) == 200
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]

    async def test_in_a_group_mentions_and_replies_to_the_bot_are_answered(self, bot: Bot) -> None:
        group = {"id": -1001234567890, "type": "supergroup", "title": "Team"}
        mention = update(
            1,
            "@chatorch_bot what is 6*7?",
            chat=group,
            entities=[{"type": "mention", "offset": 0, "length": 13}],
        )
        command = update(
            2,
            "/ask@chatorch_bot what is 2+3?",
            chat=group,
            entities=[{"type": "bot_command", "offset": 0, "length": 17}],
        )
        ours = {"message_id": 55, "date": 1764950400, "chat": group, "text": "42"}
        replying = update(
            3,
            "and 3+4?",
            chat=group,
            reply_to_message={**ours, "from": {"id": 123456, "is_bot": True, "first_name": "C"}},
        )
        for body in (mention, command, replying):
            assert await bot.deliver(body) == 200
            await bot.settled(answers=len(bot.answers()) + 1)
        asked = bot.rows("SELECT content FROM messages WHERE role = 'user' ORDER BY id")
        assert asked == [("what is 6*7?",), ("what is 2+3?",), ("and 3+4?",)]
        replied = [s["reply_parameters"]["message_id"] for s in bot.api.called("sendMessage")]
        assert replied == [10, 20, 30]  # each answer replies to its question
        assert len(bot.api.called("getMe")) == 1  # the bot's name is asked once

    async def test_in_a_group_messages_to_others_are_ignored(self, bot: Bot) -> None:
        group = {"id": -1001234567890, "type": "supergroup", "title": "Team"}
        other_bot = update(
            1,
            "@other_bot what is 6*7?",
            chat=group,
            entities=[{"type": "mention", "offset": 0, "length": 10}],
        )
        plain = update(2, "what is 6*7?", chat=group)
        theirs = {"message_id": 55, "date": 1764950400, "chat": group, "text": "hi"}
        replying = update(
            3,
            "and 3+4?",
            chat=group,
            reply_to_message={**theirs, "from": {"id": 8, "is_bot": False, "first_name": "B"}},
        )
        for body in (other_bot, plain, replying):
            assert await bot.deliver(body) == 200
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]

    async def test_one_telegram_chat_is_one_chat_with_its_history(self, bot: Bot) -> None:
        assert await bot.deliver(update(1, "what is 2+3?")) == 200
        await bot.settled(answers=1)
        assert await bot.deliver(update(2, "and 4*5?")) == 200
        await bot.settled(answers=2)
        assert bot.rows("SELECT count(*) FROM chats") == [(1,)]
        other = update(3, "hello", chat_id=77, user_id=8)
        assert await bot.deliver(other) == 200
        await bot.settled(answers=3)
        assert bot.rows("SELECT count(*) FROM chats") == [(2,)]


class TestPerBot:
    async def test_a_bot_answers_with_its_own_chain(
        self, tmp_path: Path, api: FakeTelegram, openai: FakeOpenAI
    ) -> None:
        own = {"llm": "openai:fake-tokens-5"}  # the server's chain stays builtin
        async for made in _bot(tmp_path, api, bot=own, openai_base_url=openai.url):
            assert await made.deliver(update(1, "tell me something")) == 200
            await made.settled()
            assert made.answers() == ["tok0 tok1 tok2 tok3 tok4"]

    async def test_a_bot_offers_only_its_tools(self, tmp_path: Path, api: FakeTelegram) -> None:
        async for made in _bot(tmp_path, api, bot={"tools": []}):
            assert await made.deliver(update(1, "what is 12*7?")) == 200
            await made.settled()
            (metadata,) = made.rows("SELECT metadata FROM messages WHERE role = 'assistant'")
        assert '"tool_calls":[]' in metadata[0].replace(" ", "")  # no calculator offered


class TestOutbound:
    async def test_a_long_answer_streams_by_edits_and_splits_at_4096(
        self, tmp_path: Path, api: FakeTelegram, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-slow-2-tokens-1800"  # about 12,000 characters over 3.6 s
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert await made.deliver(update(1, "tell me a lot")) == 200
            await made.settled(timeout=30)
            (answer,) = made.answers()
            parts = made.shown()
        assert len(answer) > 2 * 4096
        assert "".join(parts) == answer
        assert all(len(part) <= 4096 for part in parts)
        assert all(part.endswith(" ") for part in parts[:-1])  # no word cut in two
        edits = [call for call in api.calls if call["method"] == "editMessageText"]
        assert edits, "the answer grew by edits"
        by_message: dict[int, list[float]] = {}
        for call in edits:
            by_message.setdefault(int(call["params"]["message_id"]), []).append(call["at"])
        for times in by_message.values():  # about one edit a second per message
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(gap > 0.8 for gap in gaps[:-1]), gaps

    async def test_a_429_is_waited_out(self, bot: Bot) -> None:
        bot.api.refuse("sendMessage", retry_after=1)
        assert await bot.deliver(update(1, "what is 6*7?")) == 200
        await bot.settled()
        sends = [call for call in bot.api.calls if call["method"] == "sendMessage"]
        assert len(sends) == 2  # refused once, then sent
        assert sends[1]["at"] - sends[0]["at"] >= 1
        assert bot.shown() == bot.answers()
