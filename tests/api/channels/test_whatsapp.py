"""A WhatsApp Cloud API bot end to end: Meta's handshake, signed webhooks in, the answer
sent whole when it is done, against a local Graph API that records every call
(tests/fixtures/fake_meta.py)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatorch.adapters.channels.meta import WhatsAppChannel
from chatorch.domain.errors import NotConfigured
from tests.api.channels.meta_harness import MetaBot, serve_bot
from tests.conftest import remember
from tests.fixtures.fake_meta import (
    PHONE_NUMBER_ID,
    FakeMeta,
    fake_meta,
    signed,
    whatsapp_image,
    whatsapp_status,
    whatsapp_text,
)
from tests.fixtures.fake_openai import FakeOpenAI

ACCESS_TOKEN = remember("EAAGfake-whatsapp-access-token-for-tests")
APP_SECRET = remember("whatsapp-app-secret-0123456789abcdef")
VERIFY_TOKEN = remember("whatsapp-verify-token-42")
MAX_CHARS = 4096


Bot = MetaBot


async def _bot(tmp_path: Path, api: FakeMeta, **settings: Any) -> AsyncIterator[Bot]:
    credentials = {
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "phone_number_id": PHONE_NUMBER_ID,
    }
    async for made in serve_bot(
        tmp_path, api, platform="whatsapp", credentials=credentials, **settings
    ):
        yield made


@pytest.fixture
async def api() -> AsyncIterator[FakeMeta]:
    async with fake_meta(token=ACCESS_TOKEN) as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, api: FakeMeta) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, api):
        yield made


class TestHandshake:
    async def test_the_right_verify_token_echoes_the_challenge(self, bot: Bot) -> None:
        answered = await bot.handshake(
            mode="subscribe", verify_token=VERIFY_TOKEN, challenge="1158201444"
        )
        assert answered.status_code == 200
        assert answered.text == "1158201444"
        assert answered.headers["content-type"].startswith("text/plain")

    async def test_a_wrong_or_missing_token_is_refused(self, bot: Bot) -> None:
        for query in (
            {"mode": "subscribe", "verify_token": "guess", "challenge": "1"},
            {"mode": "subscribe", "challenge": "1"},
            {"mode": "unsubscribe", "verify_token": VERIFY_TOKEN, "challenge": "1"},
        ):
            answered = await bot.handshake(**query)
            assert answered.status_code == 403
            assert "1" not in answered.text.split()
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]


class TestInbound:
    async def test_a_text_message_is_answered_once_with_the_stored_answer(self, bot: Bot) -> None:
        assert await bot.deliver(whatsapp_text("wamid.HBgL01", "what is 12*7?")) == 200
        await bot.settled()
        (answer,) = bot.answers()
        assert "84" in answer
        assert bot.api.sent() == [answer]  # sent once, whole: WhatsApp cannot edit
        (call,) = bot.api.calls
        assert call["path"] == f"/v21.0/{PHONE_NUMBER_ID}/messages"
        assert call["authorized"]
        assert call["query"] == {}  # the token travels in a header, never in the URL
        assert call["json"] == {
            "messaging_product": "whatsapp",
            "to": "16505551234",
            "type": "text",
            "text": {"body": answer},
        }
        (typing,) = bot.api.indicators  # read, with a typing indicator, before the answer
        assert typing["json"] == {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.HBgL01",
            "typing_indicator": {"type": "text"},
        }
        assert typing["path"] == call["path"]
        assert typing["authorized"]
        assert typing["at"] < call["at"]

    async def test_a_forged_or_missing_signature_is_refused_and_leaves_nothing(
        self, bot: Bot
    ) -> None:
        body = whatsapp_text("wamid.HBgL01", "hello")
        raw, headers = signed(body, APP_SECRET)
        assert await bot.deliver(body, secret="another-apps-secret") == 401
        assert await bot.deliver(body, headers={"Content-Type": "application/json"}) == 401
        assert await bot.deliver(body, headers={"X-Hub-Signature-256": "sha1=" + "0" * 40}) == 401
        tampered = raw.replace(b"hello", b"hullo")
        response = await bot.client.post(bot.webhook, content=tampered, headers=headers)
        assert response.status_code == 401
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_a_redelivered_message_is_answered_once(self, bot: Bot) -> None:
        first = whatsapp_text("wamid.HBgL07", "what is 2+2?")
        codes = await asyncio.gather(*(bot.deliver(first) for _ in range(3)))
        assert codes == [200, 200, 200]
        await bot.settled()
        assert await bot.deliver(first) == 200  # Meta's redelivery after the answer, too
        await asyncio.sleep(1)
        assert bot.rows("SELECT count(*) FROM messages WHERE role = 'user'") == [(1,)]
        assert len(bot.answers()) == 1
        assert len(bot.api.calls) == 1

    async def test_statuses_other_types_and_other_numbers_are_ignored(self, bot: Bot) -> None:
        assert await bot.deliver(whatsapp_status("wamid.HBgLSENT", "delivered")) == 200
        assert await bot.deliver(whatsapp_status("wamid.HBgLSENT", "read")) == 200
        assert await bot.deliver(whatsapp_image("wamid.HBgL03")) == 200
        other = whatsapp_text("wamid.HBgL04", "hi", phone_number_id="999000111")
        assert await bot.deliver(other) == 200
        assert await bot.deliver({"object": "whatsapp_business_account", "entry": "?"}) == 200
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_one_number_is_one_chat_with_its_history(self, bot: Bot) -> None:
        assert await bot.deliver(whatsapp_text("wamid.HBgL01", "what is 2+3?")) == 200
        await bot.settled(answers=1)
        assert await bot.deliver(whatsapp_text("wamid.HBgL02", "and 4*5?")) == 200
        await bot.settled(answers=2)
        assert bot.rows("SELECT count(*) FROM chats") == [(1,)]
        other = whatsapp_text("wamid.HBgL03", "hello", sender="447700900123")
        assert await bot.deliver(other) == 200
        await bot.settled(answers=3)
        assert bot.rows("SELECT count(*) FROM chats") == [(2,)]
        assert [call["json"]["to"] for call in bot.api.calls][-1] == "447700900123"


class TestOutbound:
    async def test_a_long_answer_is_split_at_4096_without_cutting_words(
        self, tmp_path: Path, api: FakeMeta, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-tokens-2000"  # about 16,000 characters
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert await made.deliver(whatsapp_text("wamid.HBgL01", "tell me a lot")) == 200
            await made.settled(timeout=30)
            (answer,) = made.answers()
        parts = api.sent()
        assert len(answer) > 3 * MAX_CHARS
        assert len(parts) == len(api.calls) >= 4  # each part sent once
        assert "".join(parts) == answer
        assert all(len(part) <= MAX_CHARS for part in parts)
        assert all(part.endswith(" ") for part in parts[:-1])  # no word cut in two

    async def test_a_429_is_waited_out(self, bot: Bot) -> None:
        bot.api.refuse(status=429, retry_after=1, code=130429)
        assert await bot.deliver(whatsapp_text("wamid.HBgL01", "what is 6*7?")) == 200
        await bot.settled()
        assert [call["ok"] for call in bot.api.calls] == [False, True]  # refused, then sent
        first, second = bot.api.calls
        assert second["at"] - first["at"] >= 1
        assert bot.api.sent() == bot.answers()

    async def test_a_throttling_code_without_a_wait_waits_a_little(self, bot: Bot) -> None:
        bot.api.refuse(status=400, retry_after=None, code=130429)
        assert await bot.deliver(whatsapp_text("wamid.HBgL01", "what is 6*7?")) == 200
        await bot.settled()
        first, second = bot.api.calls
        assert second["at"] - first["at"] >= 1.9  # Meta named no wait: 2 s
        assert bot.api.sent() == bot.answers()


class TestRegister:
    async def test_register_says_the_webhook_is_set_in_metas_dashboard(self, api: FakeMeta) -> None:
        channel = WhatsAppChannel(
            access_token=ACCESS_TOKEN,
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            phone_number_id=PHONE_NUMBER_ID,
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
