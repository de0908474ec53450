"""A long chat keeps its gist: once it idles, its summary is written (shown on the chat,
with the prompt version that wrote it), and when its early turns no longer fit the
prompt, the summary stands in for them."""

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import new_chat, read_events, serve, settings_for
from tests.fixtures.fake_openai import fake_openai_server

QUESTIONS = ["Our launch is on March 3rd in Lisbon.", "The budget is 40k euros.", "Who pays?"]


async def _ask(client: httpx.AsyncClient, chat: str, content: str) -> dict[str, Any]:
    accepted = await client.post(f"/v1/chats/{chat}/messages", json={"content": content})
    assert accepted.status_code == 202, accepted.text
    events = await read_events(client, accepted.json()["events_url"])
    assert events[-1].event == "done"
    history = (await client.get(f"/v1/chats/{chat}/messages")).json()
    answer: dict[str, Any] = history[-1]
    return answer


async def _summary(
    client: httpx.AsyncClient, chat: str, through: str | None = None, timeout: float = 20
) -> dict[str, Any]:
    """The chat's summary once there is one (through ``through``, when given: a long
    backlog is summed up a window at a time)."""
    for _ in range(int(timeout * 10)):
        summary: dict[str, Any] | None = (await client.get(f"/v1/chats/{chat}")).json()["summary"]
        if summary is not None and through in (None, summary["through_message_id"]):
            return summary
        await asyncio.sleep(0.1)
    raise AssertionError("no summary was written")


class TestIdleSummaries:
    async def test_an_idle_chat_gets_a_summary_that_later_answers_use(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, summary_idle_s=1, context_chars=1000)
        async with serve(settings) as client:
            chat = await new_chat(client)
            assert (await client.get(f"/v1/chats/{chat}")).json()["summary"] is None
            answers = [await _ask(client, chat, question) for question in QUESTIONS]
            summary = await _summary(client, chat, through=answers[-1]["id"])
            later = await _ask(client, chat, "Remind me of the date?")
        assert summary["prompt"] == "summary@1"
        assert "March 3rd in Lisbon" in summary["text"]  # the offline model's gist
        assert later["metadata"]["context"]["summary"] is True
        assert later["metadata"]["context"]["turns"] < 2 * len(QUESTIONS)

    async def test_a_chat_that_fits_the_prompt_needs_no_summary(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, summary_idle_s=1)
        async with serve(settings) as client:
            chat = await new_chat(client)
            await _ask(client, chat, QUESTIONS[0])
            await _summary(client, chat)
            later = await _ask(client, chat, "And the date?")
        assert later["metadata"]["context"] == {"turns": 2, "summary": False, "passages": 0}

    async def test_the_model_gets_the_summary_in_place_of_the_turns_left_out(
        self, tmp_path: Path
    ) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(
                tmp_path,
                llm="openai:fake-tokens-80",
                openai_base_url=fake.url,
                summary_idle_s=1,
                context_chars=1000,
            )
            async with serve(settings) as client:
                chat = await new_chat(client)
                answers = [await _ask(client, chat, question) for question in QUESTIONS]
                summary = await _summary(client, chat, through=answers[-1]["id"])
                await _ask(client, chat, "Remind me of the date?")
            asked = [r for r in fake.requests if "messages" in r]
        transcripts = [r["messages"][-1]["content"] for r in asked if len(r["messages"]) == 2]
        first, *_ = [t for t in transcripts if t.startswith("user: ")]  # oldest window first
        assert first.splitlines()[0] == "user: Our launch is on March 3rd in Lisbon."
        last = asked[-1]["messages"]
        assert summary["text"] in last[0]["content"]  # the system prompt holds it
        assert QUESTIONS[0] not in [m["content"] for m in last[1:]]  # its turn is left out
