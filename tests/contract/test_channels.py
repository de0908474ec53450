"""The Channel contract: every platform adapter verifies before it reads, turns a
delivery into messages with a stable event id, and sends (and, where the platform can,
edits) through the platform.

Each adapter comes with the signed delivery its platform sends and a local double of the
platform's API (tests/fixtures), so the suite runs offline."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from nacl.signing import SigningKey

from chatorch.adapters.channels.discord import DiscordChannel
from chatorch.adapters.channels.meta import MessengerChannel, WhatsAppChannel
from chatorch.adapters.channels.slack import SlackChannel
from chatorch.adapters.channels.telegram import TelegramChannel
from chatorch.domain.channels import ChannelError
from chatorch.domain.errors import Unauthenticated
from chatorch.ports.channels import Channel
from tests.conftest import remember
from tests.fixtures.fake_discord import APPLICATION_ID as DISCORD_APPLICATION_ID
from tests.fixtures.fake_discord import fake_discord, interaction, sign, signing_key
from tests.fixtures.fake_meta import (
    PHONE_NUMBER_ID,
    fake_meta,
    messenger_text,
    signature,
    whatsapp_text,
)
from tests.fixtures.fake_slack import dm, fake_slack, signature_headers, unescaped
from tests.fixtures.fake_telegram import FakeTelegram, fake_telegram, update

TELEGRAM_SECRET = remember("contract-secret_1")
SLACK_TOKEN = remember("xoxb-42-42-contract-slack-token")
SLACK_SECRET = remember("contract-slack-signing-secret")
META_SECRET = remember("contract-meta-app-secret")
META_VERIFY = remember("contract-meta-verify-token")


@dataclass
class Platform:
    channel: Channel
    signed: Callable[[dict[str, Any]], dict[str, str]]  # headers that sign a body
    forged: dict[str, str]
    message: Callable[[int, str], dict[str, Any]]  # a delivery of one text message
    sent: Callable[[], list[str]]  # the texts the platform was asked to show
    refuse_next_send: Callable[[int], None]


@pytest.fixture(params=["telegram", "slack", "discord", "whatsapp", "messenger"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    made = {
        "telegram": _telegram,
        "slack": _slack,
        "discord": _discord,
        "whatsapp": lambda: _meta("whatsapp"),
        "messenger": lambda: _meta("messenger"),
    }[request.param]
    async with made() as found:
        yield found


@asynccontextmanager
async def _telegram() -> AsyncIterator[Platform]:
    async with fake_telegram() as api:
        channel = TelegramChannel(
            token=remember("42:contract-token"), secret_token=TELEGRAM_SECRET, api_url=api.url
        )
        yield Platform(
            channel=channel,
            signed=lambda _: {"x-telegram-bot-api-secret-token": TELEGRAM_SECRET},
            forged={"x-telegram-bot-api-secret-token": "nope"},
            message=lambda n, text: update(n, text),
            sent=lambda: _telegram_texts(api),
            refuse_next_send=lambda wait: api.refuse("sendMessage", retry_after=wait),
        )
        await channel.close()


def _telegram_texts(api: FakeTelegram) -> list[str]:
    return [c["params"]["text"] for c in api.calls if c["ok"] and "text" in c["params"]]


@asynccontextmanager
async def _slack() -> AsyncIterator[Platform]:
    async with fake_slack(token=SLACK_TOKEN) as api:
        channel = SlackChannel(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET, api_url=api.url)
        yield Platform(
            channel=channel,
            signed=lambda body: signature_headers(orjson.dumps(body), SLACK_SECRET),
            forged=signature_headers(b"{}", SLACK_SECRET),  # signs another body
            message=lambda n, text: dm(n, text),
            sent=lambda: [
                unescaped(c["params"]["text"])
                for c in api.calls
                if c["ok"] and "text" in c["params"]
            ],
            refuse_next_send=lambda wait: api.refuse("chat.postMessage", retry_after=wait),
        )
        await channel.close()


@asynccontextmanager
async def _discord() -> AsyncIterator[Platform]:
    key, public_key = signing_key()
    async with fake_discord() as api:
        channel = DiscordChannel(
            application_id=DISCORD_APPLICATION_ID,
            public_key=public_key,
            bot_token=remember("contract-discord-bot-token"),
            api_url=api.url,
        )
        yield Platform(
            channel=channel,
            signed=lambda body: sign(key, orjson.dumps(body)),
            forged=sign(SigningKey.generate(), b"{}"),
            message=lambda n, text: interaction(n, text),
            sent=lambda: [c["json"]["content"] for c in api.calls if c["ok"]],
            refuse_next_send=lambda wait: api.refuse(retry_after=wait),
        )
        await channel.close()


@asynccontextmanager
async def _meta(name: str) -> AsyncIterator[Platform]:
    """WhatsApp or Messenger against the local Graph API; bodies signed with the app secret."""
    async with fake_meta() as api:
        token = remember(f"EAAG-contract-{name}-token")
        keys = {"app_secret": META_SECRET, "verify_token": META_VERIFY, "api_url": api.url}
        channel: Channel = (
            WhatsAppChannel(access_token=token, phone_number_id=PHONE_NUMBER_ID, **keys)
            if name == "whatsapp"
            else MessengerChannel(page_access_token=token, **keys)
        )
        yield Platform(
            channel=channel,
            signed=lambda body: {"x-hub-signature-256": signature(orjson.dumps(body), META_SECRET)},
            forged={"x-hub-signature-256": signature(b"{}", META_SECRET)},
            message=(
                (lambda n, text: whatsapp_text(f"wamid.HBgL{n:06d}", text))
                if name == "whatsapp"
                else (lambda n, text: messenger_text(f"m_contract{n:06d}", text))
            ),
            sent=api.sent,
            refuse_next_send=lambda wait: api.refuse(status=429, retry_after=wait),
        )
        await channel.close()


def _delivery(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    raw = orjson.dumps(body)
    return {"method": "POST", "headers": platform.signed(body), "query": {}, "body": raw}


async def _reply(platform: Platform) -> Any:
    received = await platform.channel.receive(**_delivery(platform, platform.message(1, "hi")))
    return received.messages[0].reply


class TestInbound:
    async def test_a_signed_delivery_passes_and_brings_its_message(
        self, platform: Platform
    ) -> None:
        seen = _delivery(platform, platform.message(1, "hello there"))
        platform.channel.verify(**seen)
        reception = await platform.channel.receive(**seen)
        assert reception.status == 200
        (inbound,) = reception.messages
        assert inbound.text == "hello there"
        again = await platform.channel.receive(**seen)
        assert again.messages[0].event_id == inbound.event_id  # a redelivery is known
        other = await platform.channel.receive(**_delivery(platform, platform.message(2, "more")))
        assert other.messages[0].event_id != inbound.event_id
        assert other.messages[0].conversation == inbound.conversation

    def test_a_forged_or_unsigned_delivery_is_refused(self, platform: Platform) -> None:
        seen = _delivery(platform, platform.message(1, "hello"))
        for headers in (platform.forged, {}):
            with pytest.raises(Unauthenticated):
                platform.channel.verify(**{**seen, "headers": headers})


class TestOutbound:
    async def test_send_then_edit_where_the_platform_can(self, platform: Platform) -> None:
        reply = await _reply(platform)
        message_id = await platform.channel.send(reply, "Hel")
        assert platform.channel.max_chars >= 2000
        if not platform.channel.edits:  # answers are sent when done
            with pytest.raises(ChannelError):
                await platform.channel.edit(reply, message_id, "Hello")
            assert platform.sent() == ["Hel"]
            return
        await platform.channel.edit(reply, message_id, "Hello")
        await platform.channel.edit(reply, message_id, "Hello")  # the same text: no error
        assert platform.sent()[:2] == ["Hel", "Hello"]

    async def test_a_refusal_with_a_wait_says_how_long(self, platform: Platform) -> None:
        reply = await _reply(platform)
        platform.refuse_next_send(3)
        with pytest.raises(ChannelError) as refused:
            await platform.channel.send(reply, "text")
        assert refused.value.retry_after == 3

    async def test_a_typing_indicator_shows_no_text(self, platform: Platform) -> None:
        reply = await _reply(platform)
        await platform.channel.typing(reply)  # a platform without one does nothing
        await platform.channel.send(reply, "answer")
        assert platform.sent() == ["answer"]
