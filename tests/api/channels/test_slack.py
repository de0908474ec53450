"""A Slack bot end to end: signed Events API deliveries in, the answer grown back by
``chat.update`` in the DM or the mention's thread, against a local Web API that records
every call (tests/fixtures/fake_slack.py)."""

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet

from chatorch.adapters.channels.slack import SlackChannel
from chatorch.domain.errors import NotConfigured
from chatorch.settings import Settings
from tests.api.channels.harness import StoredAnswers
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.fake_slack import (
    BOT_ID,
    BOT_USER,
    CHANNEL,
    DM,
    FakeSlack,
    dm,
    envelope,
    fake_slack,
    mention,
    signature_headers,
    ts_of,
    url_verification,
)

TOKEN = remember("xoxb-1234567890-0987654321-fakeSlackBotTokenForTests")
SIGNING_SECRET = remember("8f742231b10e8888abcd99yyyzzz85a5")
STALE = 6 * 60  # s: older than the 5 minutes Slack's signatures are good for
SLACK_WAITS = 3.0  # s Slack waits for a webhook's answer before it retries


@dataclass
class Bot(StoredAnswers):
    client: httpx.AsyncClient
    api: FakeSlack
    settings: Settings
    webhook: str

    async def deliver(
        self,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        retry: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` as Slack does: signed now unless ``headers`` are given; ``retry``:
        the headers of Slack's retry (``X-Slack-Retry-Num``…)."""
        raw = orjson.dumps(body)
        signed = signature_headers(raw, SIGNING_SECRET) if headers is None else headers
        sent = {"Content-Type": "application/json", **signed, **(retry or {})}
        return await self.client.post(self.webhook, content=raw, headers=sent)

    def questions(self) -> list[str]:
        rows = self.rows("SELECT content FROM messages WHERE role = 'user' ORDER BY id")
        return [content for (content,) in rows]

    async def settled(self, answers: int = 1, timeout: float = 20) -> None:
        """Until ``answers`` answers are stored and the platform's last call is 1.5 s old."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = not self.api.calls or time.monotonic() - self.api.calls[-1]["at"] > 1.5
            if len(self.answers()) >= answers and quiet:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not settled: {self.answers()} {self.api.calls[-3:]}")

    def shown(self) -> list[str]:
        """What the person sees: each posted message's latest text, in order."""
        return list(self.api.texts().values())

    async def nothing_happened(self) -> None:
        await asyncio.sleep(0.5)
        assert self.rows("SELECT count(*) FROM messages") == [(0,)]
        assert self.api.calls == []


async def _bot(tmp_path: Path, api: FakeSlack, **settings: Any) -> AsyncIterator[Bot]:
    configured = settings_for(
        tmp_path,
        secret_keys=remember(Fernet.generate_key().decode()),
        slack_api_url=api.url,
        **settings,
    )
    async with serve(configured) as client:
        made = await client.post(
            "/v1/bots",
            json={
                "platform": "slack",
                "name": "helper",
                "credentials": {"bot_token": TOKEN, "signing_secret": SIGNING_SECRET},
            },
        )
        assert made.status_code == 201, made.text
        yield Bot(client, api, configured, made.json()["webhook_url"])


@pytest.fixture
async def api() -> AsyncIterator[FakeSlack]:
    async with fake_slack(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, api: FakeSlack) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, api):
        yield made


class TestVerification:
    async def test_url_verification_is_answered_with_its_challenge(self, bot: Bot) -> None:
        challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        answered = await bot.deliver(url_verification(challenge))
        assert answered.status_code == 200
        assert answered.json() == {"challenge": challenge}
        unsigned = await bot.deliver(url_verification(challenge), headers={})
        assert unsigned.status_code == 401

    async def test_forged_stale_or_missing_signatures_are_refused_and_leave_nothing(
        self, bot: Bot
    ) -> None:
        body = dm(1, "hello")
        raw = orjson.dumps(body)
        now = time.time()
        refused = [
            signature_headers(raw, "not-the-signing-secret"),
            signature_headers(raw, SIGNING_SECRET, at=now - STALE),
            signature_headers(raw, SIGNING_SECRET, at=now + STALE),  # not from the future either
            signature_headers(orjson.dumps(dm(1, "hello!")), SIGNING_SECRET),  # another body
            {**signature_headers(raw, SIGNING_SECRET), "X-Slack-Request-Timestamp": "soon"},
            {"X-Slack-Signature": signature_headers(raw, SIGNING_SECRET)["X-Slack-Signature"]},
            {},
        ]
        for headers in refused:
            answered = await bot.deliver(body, headers=headers)
            assert answered.status_code == 401, headers
            assert answered.json()["code"] == "unauthenticated"
        await bot.nothing_happened()


class TestInbound:
    async def test_a_dm_is_answered_in_the_dm(self, bot: Bot) -> None:
        assert (await bot.deliver(dm(1, "what is 12*7?"))).status_code == 200
        await bot.settled()
        (answer,) = bot.answers()
        assert "84" in answer
        assert bot.shown() == [answer]  # the final text is the stored answer
        (post,) = bot.api.called("chat.postMessage")
        assert post["channel"] == DM
        assert "thread_ts" not in post  # a DM is answered in the DM, not in a thread
        assert {call["authorization"] for call in bot.api.calls} == {f"Bearer {TOKEN}"}

    async def test_at_debug_no_slack_call_is_logged(
        self, bot: Bot, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)  # slack-sdk logs each call's parameters at debug
        assert (await bot.deliver(dm(1, "my secret plan"))).status_code == 200
        await bot.settled()
        logged = [record for record in caplog.records if record.name.startswith("slack_sdk")]
        assert logged == []

    async def test_a_dm_in_a_thread_is_answered_in_that_thread(self, bot: Bot) -> None:
        assert (await bot.deliver(dm(2, "what is 2+3?", thread_ts=ts_of(1)))).status_code == 200
        await bot.settled()
        (post,) = bot.api.called("chat.postMessage")
        assert (post["channel"], post["thread_ts"]) == (DM, ts_of(1))

    async def test_a_mention_is_answered_in_its_thread(self, bot: Bot) -> None:
        assert (await bot.deliver(mention(1, "what is 6*7? a < b & c"))).status_code == 200
        await bot.settled()
        assert bot.questions() == ["what is 6*7? a < b & c"]  # the bot's mention taken off
        (post,) = bot.api.called("chat.postMessage")
        assert (post["channel"], post["thread_ts"]) == (CHANNEL, ts_of(1))
        assert bot.shown() == bot.answers()

    async def test_a_retried_event_is_answered_once(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        slow = "openai:fake-slow-50-tokens-40"  # about 2 s of answer
        async for made in _bot(tmp_path, api, llm=slow, openai_base_url=openai.url):
            first = dm(7, "tell me something")
            started = time.monotonic()
            answered = await asyncio.gather(  # the first delivery and two retries at once
                made.deliver(first),
                made.deliver(first, retry={"X-Slack-Retry-Num": "1"}),
                made.deliver(first, retry={"X-Slack-Retry-Num": "1"}),
            )
            assert [response.status_code for response in answered] == [200, 200, 200]
            assert time.monotonic() - started < SLACK_WAITS  # acknowledged before the answer
            assert made.answers() == []
            await made.settled()
            retry = {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}
            assert (await made.deliver(first, retry=retry)).status_code == 200  # after the answer
            await asyncio.sleep(1)
            assert made.rows("SELECT count(*) FROM messages WHERE role = 'user'") == [(1,)]
            assert len(made.answers()) == 1
            assert len(api.called("chat.postMessage")) == 1

    async def test_the_bots_own_messages_subtypes_and_other_events_are_ignored(
        self, bot: Bot
    ) -> None:
        own = dm(1, "Sure, here it is", user=BOT_USER, bot_id=BOT_ID, app_id="A0CHATORCH")
        edited = dm(2, "hello", subtype="message_changed", hidden=True)
        joined = dm(3, f"<@{BOT_USER}> has joined the channel", subtype="channel_join")
        bot_post = dm(4, "beep", subtype="bot_message", bot_id="B0OTHER")
        in_channel = dm(5, "hello all", channel=CHANNEL, channel_type="channel")
        reaction = envelope(
            6,
            {
                "type": "reaction_added",
                "user": "U0PERSON1",
                "reaction": "thumbsup",
                "item": {"type": "message", "channel": DM, "ts": ts_of(1)},
                "event_ts": ts_of(6),
            },
        )
        bare = mention(7, "")  # only the mention: nothing asked
        limited = {"token": "XXYYZZ", "type": "app_rate_limited", "minute_rate_limited": 1518467820}
        for body in (own, edited, joined, bot_post, in_channel, reaction, bare, limited):
            assert (await bot.deliver(body)).status_code == 200, body
        raw = b"payload=not-json"
        garbled = await bot.client.post(
            bot.webhook, content=raw, headers=signature_headers(raw, SIGNING_SECRET)
        )
        assert garbled.status_code == 200  # signed by Slack: acknowledged, or it retries
        await bot.nothing_happened()

    async def test_one_slack_conversation_is_one_chat_with_its_history(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        recall = "openai:fake-slow-5-recall"  # answers "answer<n>": n-1 answers in context
        async for made in _bot(tmp_path, api, llm=recall, openai_base_url=openai.url):
            assert (await made.deliver(dm(1, "hello"))).status_code == 200
            await made.settled(answers=1)
            assert (await made.deliver(dm(2, "and again"))).status_code == 200
            await made.settled(answers=2)
            assert made.rows("SELECT count(*) FROM chats") == [(1,)]
            thread = mention(3, "hello there")
            assert (await made.deliver(thread)).status_code == 200
            await made.settled(answers=3)
            in_thread = mention(4, "more please", thread_ts=ts_of(3))
            assert (await made.deliver(in_thread)).status_code == 200
            await made.settled(answers=4)
            assert made.rows("SELECT count(*) FROM chats") == [(2,)]
            elsewhere = mention(5, "hello too")  # a new thread in the channel: a new chat
            assert (await made.deliver(elsewhere)).status_code == 200
            await made.settled(answers=5)
            assert made.rows("SELECT count(*) FROM chats") == [(3,)]
            firsts = [answer.split()[0] for answer in made.answers()]
        assert firsts == ["answer1", "answer2", "answer1", "answer2", "answer1"]
        threads = [post.get("thread_ts") for post in api.called("chat.postMessage")]
        assert threads == [None, None, ts_of(3), ts_of(3), ts_of(5)]


class TestOutbound:
    async def test_a_long_answer_grows_by_chat_update_about_once_a_second(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-slow-2-tokens-1800"  # about 12,000 characters over 3.6 s
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert (await made.deliver(mention(1, "tell me a lot"))).status_code == 200
            await made.settled(timeout=30)
            (answer,) = made.answers()
            shown = made.shown()
        assert len(answer) > 10_000
        assert shown == [answer]  # one message: well under Slack's 40,000 characters
        (post,) = api.called("chat.postMessage")
        assert len(post["text"]) < len(answer)  # posted early, then grown
        updates = [call for call in api.calls if call["method"] == "chat.update"]
        assert len(updates) >= 2, "the answer grew by chat.update"
        assert {call["params"]["ts"] for call in updates} == {updates[0]["ts"]}
        times = [call["at"] for call in updates]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap > 0.8 for gap in gaps[:-1]), gaps  # about one update a second

    async def test_an_answer_over_40000_characters_is_split(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-tokens-6000"  # about 46,000 characters at once
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert (await made.deliver(dm(1, "tell me everything"))).status_code == 200
            await made.settled(timeout=30)
            (answer,) = made.answers()
            parts = made.shown()
        assert len(answer) > 40_000
        assert len(parts) == 2
        assert "".join(parts) == answer
        assert all(len(part) <= 40_000 for part in parts)
        assert parts[0].endswith(" ")  # no word cut in two

    async def test_a_429_is_waited_out(self, bot: Bot) -> None:
        bot.api.refuse("chat.postMessage", retry_after=1)
        assert (await bot.deliver(dm(1, "what is 6*7?"))).status_code == 200
        await bot.settled()
        posts = [call for call in bot.api.calls if call["method"] == "chat.postMessage"]
        assert [call["ok"] for call in posts] == [False, True]  # refused once, then posted
        assert posts[1]["at"] - posts[0]["at"] >= 1
        assert bot.shown() == bot.answers()

    async def test_a_failed_answer_says_so(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-error-500"
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert (await made.deliver(dm(1, "hello"))).status_code == 200
            for _ in range(200):  # 20 s
                if made.shown():
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # and nothing more
            shown = made.shown()
        assert len(shown) == 1
        assert "went wrong" in shown[0]


class TestRegistration:
    async def test_slack_takes_the_request_url_in_the_apps_settings(self) -> None:
        channel = SlackChannel(
            bot_token=TOKEN, signing_secret=SIGNING_SECRET, api_url="http://127.0.0.1:9/api"
        )
        url = "https://bots.example.com/v1/webhooks/0195f6b4-4a50-7c8e-9d1b-0123456789ab"
        with pytest.raises(NotConfigured) as refused:
            await channel.register(url)
        await channel.close()
        assert "Event Subscriptions" in refused.value.detail
        assert url in refused.value.detail


# The fake model calls the tools a question names ("[call name {json}]") and answers with
# what they said: the calculator quotes an expression it cannot compute, so the answer
# holds it, Markdown and all (Slack sends what the person typed with & < > escaped).
MARKDOWN_QUESTION = '[call calculator {"expression": "**Bold** &amp; &lt;!channel&gt;"}]'


class TestMarkdown:
    async def test_the_answers_markdown_is_shown_as_mrkdwn_and_pings_nobody(
        self, tmp_path: Path, api: FakeSlack, openai: FakeOpenAI
    ) -> None:
        async for made in _bot(tmp_path, api, llm="openai:fake", openai_base_url=openai.url):
            assert (await made.deliver(dm(1, MARKDOWN_QUESTION))).status_code == 200
            await made.settled()
            (answer,) = made.answers()
            shown = made.shown()
        assert "'**Bold** & <!channel>'" in answer
        last = [call["params"] for call in api.calls if call["ok"]][-1]
        assert last["mrkdwn"] is True
        assert "'*Bold* &amp; &lt;!channel&gt;'" in last["text"]
        assert shown == [answer.replace("**Bold**", "Bold")]

    async def test_markup_slack_refuses_goes_again_as_plain_text(self, bot: Bot) -> None:
        bot.api.refuse("chat.postMessage", status=200, retry_after=None, error="invalid_blocks")
        assert (await bot.deliver(dm(1, "what is 6*7?"))).status_code == 200
        await bot.settled()
        first, second = bot.api.called("chat.postMessage")
        assert (first["mrkdwn"], second["mrkdwn"]) == (True, False)
        assert [call["ok"] for call in bot.api.calls][:2] == [False, True]
        assert bot.shown() == bot.answers()
