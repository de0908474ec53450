"""A Discord bot end to end: a signed ``/ask`` interaction in, deferred at once, the
answer edited into the deferred response and continued in follow-ups, against a local
Discord API that records every call (tests/fixtures/fake_discord.py)."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from nacl.signing import SigningKey

from chatorch.adapters.channels.discord import DiscordChannel
from chatorch.domain.errors import NotConfigured
from chatorch.settings import Settings
from tests.api.channels.harness import StoredAnswers
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_discord import (
    APPLICATION_ID,
    FakeDiscord,
    command,
    fake_discord,
    interaction,
    interaction_token,
    ping,
    sign,
    signing_key,
)
from tests.fixtures.fake_openai import FakeOpenAI

BOT_TOKEN = remember("MTE4NzYyMzE1MDExODA0Nzc0NA.GfakeX.discord-bot-token-for-tests")
KEY, PUBLIC_KEY = signing_key()
ORIGINAL = f"/webhooks/{APPLICATION_ID}/{{token}}/messages/@original"


@dataclass
class Bot(StoredAnswers):
    client: httpx.AsyncClient
    api: FakeDiscord
    settings: Settings
    webhook: str

    async def deliver(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Post ``body`` as Discord does: signed with the application's key, unless
        ``headers`` say otherwise."""
        raw = orjson.dumps(body)
        signed = sign(KEY, raw) if headers is None else headers
        if isinstance(body.get("token"), str):
            remember(body["token"])  # an interaction token is never printed either
        return await self.client.post(
            self.webhook, content=raw, headers={"Content-Type": "application/json", **signed}
        )

    async def settled(self, answers: int = 1, timeout: float = 20) -> None:
        """Until ``answers`` answers are stored and the platform's last call is 1 s old."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = not self.api.calls or time.monotonic() - self.api.calls[-1]["at"] > 1.5
            if len(self.answers()) >= answers and quiet:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not settled: {self.answers()} {self.api.calls[-3:]}")


async def _bot(tmp_path: Path, api: FakeDiscord, **settings: Any) -> AsyncIterator[Bot]:
    configured = settings_for(
        tmp_path,
        secret_keys=remember(Fernet.generate_key().decode()),
        discord_api_url=api.url,
        **settings,
    )
    credentials = {
        "application_id": APPLICATION_ID,
        "public_key": PUBLIC_KEY,
        "bot_token": BOT_TOKEN,
    }
    async with serve(configured) as client:
        made = await client.post(
            "/v1/bots", json={"platform": "discord", "name": "helper", "credentials": credentials}
        )
        assert made.status_code == 201, made.text
        yield Bot(client, api, configured, made.json()["webhook_url"])


@pytest.fixture
async def api() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, api: FakeDiscord) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, api):
        yield made


class TestInbound:
    async def test_a_ping_is_answered_with_a_pong(self, bot: Bot) -> None:
        answered = await bot.deliver(ping())
        assert answered.status_code == 200
        assert answered.headers["content-type"] == "application/json"
        assert answered.json() == {"type": 1}
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_a_forged_stale_or_missing_signature_is_refused_and_leaves_nothing(
        self, bot: Bot
    ) -> None:
        body = interaction(1, "hello")
        raw = orjson.dumps(body)
        good = sign(KEY, raw)
        refused = [
            sign(SigningKey.generate(), raw),  # another application's key
            sign(KEY, raw + b" "),  # a body that is not the one signed
            sign(KEY, raw, timestamp=int(time.time()) - 6 * 60),  # replayed: too old
            {**good, "x-signature-ed25519": "not hex"},
            {**good, "x-signature-ed25519": good["x-signature-ed25519"][:-2]},
            {**good, "x-signature-timestamp": "yesterday"},
            {"x-signature-timestamp": good["x-signature-timestamp"]},
            {},
        ]
        for headers in refused:
            answered = await bot.deliver(body, headers=headers)
            assert answered.status_code == 401, headers
            assert answered.json()["code"] == "unauthenticated"
        assert (await bot.deliver(ping(), headers={})).status_code == 401  # Discord's probe
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_ask_is_deferred_at_once_then_answered_in_the_deferred_response(
        self, bot: Bot
    ) -> None:
        started = time.monotonic()
        answered = await bot.deliver(interaction(1, "what is 12*7?"))
        assert time.monotonic() - started < 3  # Discord gives up after 3 s
        assert answered.status_code == 200
        assert answered.json() == {"type": 5}
        await bot.settled()
        (answer,) = bot.answers()
        assert "84" in answer
        token = interaction_token(1)
        assert bot.api.shown(token) == [answer]  # the final content is the stored answer
        (call, *_) = bot.api.calls
        assert (call["method"], call["path"]) == (
            "PATCH",
            "/api/v10" + ORIGINAL.format(token=token),
        )
        assert call["json"]["allowed_mentions"] == {"parse": []}  # an answer pings nobody
        assert {c["auth"] for c in bot.api.calls} == {None}  # webhooks need no bot token
        assert bot.rows("SELECT content FROM messages WHERE role = 'user'") == [("what is 12*7?",)]

    async def test_the_interaction_token_is_never_stored_in_plaintext(self, bot: Bot) -> None:
        assert (await bot.deliver(interaction(1, "what is 12*7?"))).status_code == 200
        await bot.settled()
        assert bot.api.shown(interaction_token(1)) == bot.answers()  # it was used
        database = Path(bot.settings.database_url.removeprefix("sqlite+aiosqlite:///"))
        stored = b"".join(
            path.read_bytes()
            for path in (database, database.with_name(database.name + "-wal"))
            if path.exists()
        )
        assert b"what is 12*7?" in stored  # the scan reads what was written
        assert interaction_token(1).encode() not in stored

    async def test_a_direct_message_is_answered_too(self, bot: Bot) -> None:
        answered = await bot.deliver(interaction(1, "what is 2+3?", guild=False))
        assert answered.json() == {"type": 5}
        await bot.settled()
        assert bot.api.shown(interaction_token(1)) == bot.answers()

    async def test_other_interactions_get_a_short_private_note(self, bot: Bot) -> None:
        others = [
            command(1, "help"),
            command(2, "ask"),  # no question
            command(3, "ask", [{"name": "question", "type": 3, "value": "   "}]),
            {**command(4, "ask"), "type": 3, "data": {"custom_id": "b1", "component_type": 2}},
        ]
        for body in others:
            answered = await bot.deliver(body)
            assert answered.status_code == 200
            note = answered.json()
            assert note["type"] == 4
            assert note["data"]["flags"] == 64  # ephemeral: only the person sees it
            assert "/ask" in note["data"]["content"]
        autocomplete = {**command(5, "ask"), "type": 4}
        assert (await bot.deliver(autocomplete)).json() == {"type": 8, "data": {"choices": []}}
        await asyncio.sleep(0.5)
        assert bot.rows("SELECT count(*) FROM messages") == [(0,)]
        assert bot.api.calls == []

    async def test_a_redelivered_interaction_is_answered_once(self, bot: Bot) -> None:
        first = interaction(7, "what is 2+2?")
        answers = await asyncio.gather(*(bot.deliver(first) for _ in range(3)))
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"type": 5})] * 3
        await bot.settled()
        assert (await bot.deliver(first)).status_code == 200  # again after the answer, too
        await asyncio.sleep(1)
        assert bot.rows("SELECT count(*) FROM messages WHERE role = 'user'") == [(1,)]
        (answer,) = bot.answers()
        finals = [c for c in bot.api.called("PATCH") if c["json"]["content"] == answer]
        assert len(finals) == 1  # one delivery: the answer shown once
        assert bot.api.shown(interaction_token(7)) == [answer]
        assert bot.api.called("POST") == []  # no second answer as a follow-up

    async def test_one_channel_and_user_is_one_chat_with_its_history(
        self, tmp_path: Path, api: FakeDiscord, openai: FakeOpenAI
    ) -> None:
        recall = "openai:fake-slow-5-recall"  # answers "answer<n>": n-1 answers in context
        asked = [
            interaction(1, "first"),
            interaction(2, "second"),  # the same channel and person: the same chat
            interaction(3, "hello", user_id="80351110224678913"),  # another person
            interaction(4, "hello", channel_id="1187623306473545809"),  # another channel
        ]
        async for made in _bot(tmp_path, api, llm=recall, openai_base_url=openai.url):
            for n, body in enumerate(asked, start=1):
                assert (await made.deliver(body)).json() == {"type": 5}
                await made.settled(answers=n)
            assert made.rows("SELECT count(*) FROM chats") == [(3,)]
            answers = made.answers()
        assert [answer.split()[0] for answer in answers] == [
            "answer1",
            "answer2",  # the first answer was in its context
            "answer1",
            "answer1",
        ]
        for n, answer in enumerate(answers, start=1):
            assert api.shown(interaction_token(n, **_where(asked[n - 1]))) == [answer]


def _where(body: dict[str, Any]) -> dict[str, str]:
    """The channel and person an interaction came from."""
    user = (body.get("member") or body)["user"]
    return {"channel_id": body["channel_id"], "user_id": user["id"]}


class TestOutbound:
    async def test_a_long_answer_streams_into_original_then_follow_ups_split_at_2000(
        self, tmp_path: Path, api: FakeDiscord, openai: FakeOpenAI
    ) -> None:
        llm = "openai:fake-slow-2-tokens-1000"  # about 6,500 characters over 2 s
        async for made in _bot(tmp_path, api, llm=llm, openai_base_url=openai.url):
            assert (await made.deliver(interaction(1, "tell me a lot"))).json() == {"type": 5}
            await made.settled(timeout=30)
            (answer,) = made.answers()
        parts = api.shown(interaction_token(1))
        assert len(answer) > 3 * 2000
        assert "".join(parts) == answer
        assert all(len(part) <= 2000 for part in parts)
        assert all(part.endswith(" ") for part in parts[:-1])  # no word cut in two
        assert api.calls[0]["path"].endswith("/messages/@original")  # the first part
        pings = [call["json"]["allowed_mentions"] for call in api.calls]
        assert pings == [{"parse": []}] * len(api.calls)  # every edit and follow-up: nobody
        assert len(api.called("POST")) == len(parts) - 1  # the rest: one follow-up each
        edits = [c for c in api.called("PATCH") if c["path"].endswith("/@original")]
        assert len(edits) > 1, "the answer grew by edits"
        by_message: dict[str, list[float]] = {}
        for call in api.called("PATCH"):
            by_message.setdefault(call["path"].rsplit("/", 1)[1], []).append(call["at"])
        for times in by_message.values():  # about one edit a second per message
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(gap > 0.8 for gap in gaps[:-1]), gaps

    async def test_a_429_is_waited_out(self, bot: Bot) -> None:
        bot.api.refuse(retry_after=1.0)
        assert (await bot.deliver(interaction(1, "what is 6*7?"))).status_code == 200
        await bot.settled()
        first, second, *_ = bot.api.calls
        assert (first["ok"], second["ok"]) == (False, True)  # refused once, then shown
        assert first["path"] == second["path"]  # still @original: the refusal filled nothing
        assert second["at"] - first["at"] >= 1
        assert bot.api.shown(interaction_token(1)) == bot.answers()


# The fake model calls the tools a question names ("[call name {json}]") and answers with
# what they said: the calculator quotes an expression it cannot compute, so the answer
# holds it as written.
MENTIONS = "@everyone <@80351110224678912> ![chart](https://x.test/c.png)"
QUOTING = f'[call calculator {{"expression": "{MENTIONS}"}}]'


class TestMarkdown:
    async def test_an_answer_quoting_mentions_pings_nobody_and_shows_images_as_links(
        self, tmp_path: Path, api: FakeDiscord, openai: FakeOpenAI
    ) -> None:
        async for made in _bot(tmp_path, api, llm="openai:fake", openai_base_url=openai.url):
            assert (await made.deliver(interaction(1, QUOTING))).json() == {"type": 5}
            await made.settled()
            (answer,) = made.answers()
        assert MENTIONS in answer
        (shown,) = api.shown(interaction_token(1))
        assert shown == answer.replace("![chart]", "[chart]")  # Discord shows no image syntax
        assert all(call["json"]["allowed_mentions"] == {"parse": []} for call in api.calls)


def _channel(api: FakeDiscord) -> DiscordChannel:
    return DiscordChannel(
        application_id=APPLICATION_ID, public_key=PUBLIC_KEY, bot_token=BOT_TOKEN, api_url=api.url
    )


class TestChannel:
    async def test_a_channel_taking_over_an_answer_continues_after_original(
        self, api: FakeDiscord
    ) -> None:
        """Another worker's channel (its predecessor died) edits the parts recorded, so
        @original first: its next send is a follow-up, never @original again."""
        reply = {"application_id": APPLICATION_ID, "token": remember(interaction_token(1))}
        first, second = _channel(api), _channel(api)
        try:
            assert await first.send(reply, "part one ") == "@original"
            await second.edit(reply, "@original", "part one ")
            follow_up = await second.send(reply, "part two")
            await second.edit(reply, follow_up, "part two, grown")
        finally:
            await first.close()
            await second.close()
        assert follow_up.isdigit()
        assert api.shown(interaction_token(1)) == ["part one ", "part two, grown"]

    async def test_register_makes_the_ask_command_then_says_where_the_url_goes(
        self, api: FakeDiscord
    ) -> None:
        channel = _channel(api)
        url = "https://bots.example.com/v1/webhooks/3f1c"
        try:
            with pytest.raises(NotConfigured) as told:
                await channel.register(url)
        finally:
            await channel.close()
        assert "Developer Portal" in told.value.detail
        assert "Interactions Endpoint URL" in told.value.detail
        assert f"applications/{APPLICATION_ID}/information" in told.value.detail
        assert url in told.value.detail
        (call,) = api.calls
        assert (call["method"], call["path"]) == (
            "POST",
            f"/api/v10/applications/{APPLICATION_ID}/commands",
        )
        assert call["auth"] == f"Bot {BOT_TOKEN}"
        (ask,) = api.commands
        assert (ask["name"], ask["type"]) == ("ask", 1)
        assert ask["options"] == [
            {
                "type": 3,
                "name": "question",
                "description": "What you want to know",
                "required": True,
            }
        ]
