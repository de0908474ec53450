"""A Messenger bot (a Facebook Page) end to end: Meta's handshake, signed webhooks in, the
answer sent whole when it is done, against a local Graph API that records every call
(tests/fixtures/fake_meta.py)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatorch.adapters.channels.meta import MessengerChannel
from chatorch.domain.errors import NotConfigured
from tests.api.channels.meta_harness import MetaBot, serve_bot
from tests.conftest import remember
from tests.fixtures.fake_meta import (
    FakeMeta,
    fake_meta,
    messenger_echo,
    messenger_receipts,
    messenger_sticker,
    messenger_text,
    signed,
)
from tests.fixtures.fake_openai import FakeOpenAI

PAGE_TOKEN = remember("EAAGfake-messenger-page-access-token")
APP_SECRET = remember("messenger-app-secret-fedcba9876543210")
VERIFY_TOKEN = remember("messenger-verify-token-7")
PSID = "6783960381679641"
MAX_CHARS = 2000


Bot = MetaBot


async def _bot(tmp_path: Path, api: FakeMeta, **settings: Any) -> AsyncIterator[Bot]:
    credentials = {
        "page_access_token": PAGE_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }
    async for made in serve_bot(
        tmp_path, api, platform="messenger", credentials=credentials, **settings
    ):
        yield made


@pytest.fixture
async def api() -> AsyncIterator[FakeMeta]:
    async with fake_meta(token=PAGE_TOKEN) as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, api: FakeMeta) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, api):
        yield made


class TestHandshake:
    async def test_the_right_verify_token_echoes_the_challenge(self, bot: Bot) -> None:
        answered = await bot.handshake(
            mode="subscribe", verify_token=VERIFY_TOKEN, challenge="CHALLENGE_ACCEPTED"
        )
        assert answered.status_code == 200
        assert answered.text == "CHALLENGE_ACCEPTED"
        assert answered.headers["content-type"].startswith("text/plain")

    async def test_a_wrong_or_missing_token_is_refused(self, bot: Bot) -> None:
        for query in (
            {"mode": "subscribe", "verify_token": "guess", "challenge": "c-123"},
            {"mode": "subscribe", "challenge": "c-123"},
            {"verify_token": VERIFY_TOKEN, "challenge": "c-123"},
        ):
            answered = await bot.handshake(**query)
            assert answered.status_code == 403
            assert "c-123" not in answered.text


class TestInbound:
    async def test_a_text_message_is_answered_once_with_the_stored_answer(self, bot: Bot) -> None:
        assert await bot.deliver(messenger_text("m_AG5Hz2U01", "what is 12*7?")) == 200
        await bot.settled()
        (answer,) = bot.answers()
        assert "84" in answer
        assert bot.api.sent() == [answer]  # sent once, whole: Messenger cannot edit
        (call,) = bot.api.calls
        assert call["path"] == "/v21.0/me/messages"
        assert call["authorized"]
        assert call["query"] == {}  # the token travels in a header, never in the URL
        assert call["json"] == {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": answer},
        }
        (typing,) = bot.api.indicators  # "typing…" while the answer is made
        assert typing["json"] == {"recipient": {"id": PSID}, "sender_action": "typing_on"}
        assert typing["path"] == call["path"]
        assert typing["authorized"]
        assert typing["at"] < call["at"]

    async def test_a_forged_or_missing_signature_is_refused_and_leaves_nothing(
        self, bot: Bot
    ) -> None:
        body = messenger_text("m_AG5Hz2U01", "hello")
        raw, headers = signed(body, APP_SECRET)
        assert await bot.deliver(body, secret="another-apps-secret") == 401
        assert await bot.deliver(body, headers={"Content-Type": "application/json"}) == 401
        assert await bot.deliver(body, headers={"X-Hub-Signature-256": "sha256=abc"}) == 401
        tampered = raw.replace(b"hello", b"hullo")
        response = await bot.client.post(bot.webhook, content=tampered, headers=headers)
        assert response.status_code == 401
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_a_redelivered_message_is_answered_once(self, bot: Bot) -> None:
        first = messenger_text("m_AG5Hz2U07", "what is 2+2?")
        codes = await asyncio.gather(*(bot.deliver(first) for _ in range(3)))
        assert codes == [200, 200, 200]
        await bot.settled()
        assert await bot.deliver(first) == 200  # Meta's redelivery after the answer, too
        await asyncio.sleep(1)
        assert bot.rows("SELECT count(*) FROM messages WHERE role = 'user'") == [(1,)]
        assert len(bot.answers()) == 1
        assert len(bot.api.calls) == 1

    async def test_echoes_receipts_and_messages_without_text_are_ignored(self, bot: Bot) -> None:
        assert await bot.deliver(messenger_echo("m_PAGE01", "an answer the Page sent")) == 200
        assert await bot.deliver(messenger_receipts("m_PAGE01")) == 200
        assert await bot.deliver(messenger_sticker("m_AG5Hz2U03")) == 200
        assert await bot.deliver({"object": "page", "entry": [{"messaging": [1]}]}) == 200
        assert await bot.deliver({"object": "instagram", "entry": []}) == 200
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_one_psid_is_one_chat_with_its_history(self, bot: Bot) -> None:
        assert await bot.deliver(messenger_text("m_AG5Hz2U01", "what is 2+3?")) == 200
        await bot.settled(answers=1)
        assert await bot.deliver(messenger_text("m_AG5Hz2U02", "and 4*5?")) == 200
        await bot.settled(answers=2)
        assert bot.rows("SELECT count(*) FROM chats") == [(1,)]
        other = messenger_text("m_BX9Qk1L03", "hello", psid="24011986035113")
        assert await bot.deliver(other) == 200
        await bot.settled(answers=3)
        assert bot.rows("SELECT count(*) FROM chats") == [(2,)]
        assert bot.api.calls[-1]["json"]["recipient"] == {"id": "24011986035113"}


class TestOutbound:
    async def test_a_long_answer_is_split_at_2000_without_cutting_words(
        self, tmp_path: Path, api: FakeMeta, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-tokens-800"  # about 5,700 characters
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert await made.deliver(messenger_text("m_AG5Hz2U01", "tell me a lot")) == 200
            await made.settled(timeout=30)
            (answer,) = made.answers()
        parts = api.sent()
        assert len(answer) > 2 * MAX_CHARS
        assert len(parts) == len(api.calls) >= 3  # each part sent once
        assert "".join(parts) == answer
        assert all(len(part) <= MAX_CHARS for part in parts)
        assert all(part.endswith(" ") for part in parts[:-1])  # no word cut in two

    async def test_a_429_is_waited_out(self, bot: Bot) -> None:
        bot.api.refuse(status=429, retry_after=1, code=613)
        assert await bot.deliver(messenger_text("m_AG5Hz2U01", "what is 6*7?")) == 200
        await bot.settled()
        assert [call["ok"] for call in bot.api.calls] == [False, True]  # refused, then sent
        first, second = bot.api.calls
        assert second["at"] - first["at"] >= 1
        assert bot.api.sent() == bot.answers()

    async def test_a_refusal_without_a_wait_is_not_tried_again(self, bot: Bot) -> None:
        bot.api.refuse(
            status=400, retry_after=None, code=551, message="This person isn't available right now."
        )
        assert await bot.deliver(messenger_text("m_AG5Hz2U01", "what is 6*7?")) == 200
        await asyncio.sleep(2)
        assert len(bot.answers()) == 1
        assert [call["ok"] for call in bot.api.calls] == [False]  # it may have posted: once


class TestRegister:
    async def test_register_says_the_webhook_is_set_in_metas_dashboard(self, api: FakeMeta) -> None:
        channel = MessengerChannel(
            page_access_token=PAGE_TOKEN,
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            api_url=api.url,
        )
        url = "https://bots.example.com/v1/webhooks/0195f6b4-4a50-7c8e-9d1b-0123456789ab"
        with pytest.raises(NotConfigured) as refused:
            await channel.register(url)
        await channel.close()
        assert "Meta App Dashboard" in refused.value.detail
        assert url in refused.value.detail
        assert VERIFY_TOKEN not in refused.value.detail
        assert api.calls == []
