"""The Channel contract: every platform adapter verifies before it reads, turns a
delivery into messages with a stable event id, and sends and edits through the platform.

Each adapter comes with the signed delivery its platform sends and a local double of the
platform's API (tests/fixtures), so the suite runs offline."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from chatorch.adapters.channels.telegram import TelegramChannel
from chatorch.domain.channels import ChannelError
from chatorch.domain.errors import Unauthenticated
from chatorch.ports.channels import Channel
from tests.conftest import remember
from tests.fixtures.fake_telegram import FakeTelegram, fake_telegram, update

TELEGRAM_SECRET = remember("contract-secret_1")


@dataclass
class Platform:
    channel: Channel
    signed: Callable[[dict[str, Any]], dict[str, str]]  # headers that sign a body
    forged: dict[str, str]
    message: Callable[[int, str], dict[str, Any]]  # a delivery of one text message
    sent: Callable[[], list[str]]  # the texts the platform was asked to show
    refuse_next_send: Callable[[int], None]


@pytest.fixture(params=["telegram"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
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


def _delivery(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    raw = orjson.dumps(body)
    return {"method": "POST", "headers": platform.signed(body), "query": {}, "body": raw}


class TestInbound:
    def test_a_signed_delivery_passes_and_brings_its_message(self, platform: Platform) -> None:
        seen = _delivery(platform, platform.message(1, "hello there"))
        platform.channel.verify(**seen)
        reception = platform.channel.receive(**seen)
        assert reception.status == 200
        (inbound,) = reception.messages
        assert inbound.text == "hello there"
        again = platform.channel.receive(**seen)
        assert again.messages[0].event_id == inbound.event_id  # a redelivery is known
        other = platform.channel.receive(**_delivery(platform, platform.message(2, "more")))
        assert other.messages[0].event_id != inbound.event_id
        assert other.messages[0].conversation == inbound.conversation

    def test_a_forged_or_unsigned_delivery_is_refused(self, platform: Platform) -> None:
        seen = _delivery(platform, platform.message(1, "hello"))
        for headers in (platform.forged, {}):
            with pytest.raises(Unauthenticated):
                platform.channel.verify(**{**seen, "headers": headers})


class TestOutbound:
    async def test_send_then_edit(self, platform: Platform) -> None:
        reply = (
            platform.channel.receive(**_delivery(platform, platform.message(1, "hi")))
            .messages[0]
            .reply
        )
        message_id = await platform.channel.send(reply, "Hel")
        await platform.channel.edit(reply, message_id, "Hello")
        await platform.channel.edit(reply, message_id, "Hello")  # the same text: no error
        assert platform.sent()[:2] == ["Hel", "Hello"]
        assert platform.channel.max_chars >= 2000

    async def test_a_refusal_with_a_wait_says_how_long(self, platform: Platform) -> None:
        reply = (
            platform.channel.receive(**_delivery(platform, platform.message(1, "hi")))
            .messages[0]
            .reply
        )
        platform.refuse_next_send(3)
        with pytest.raises(ChannelError) as refused:
            await platform.channel.send(reply, "text")
        assert refused.value.retry_after == 3
