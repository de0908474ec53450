"""A user gives the assistant a document and asks about it: the answer cites it — offline
with the builtin model (which quotes the best passage), and with a real provider's
protocol (the fake OpenAI server records the prompt it was sent)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatorch.settings import Settings
from tests.api.conftest import new_chat, read_events, serve, settings_for, text_of
from tests.api.test_files import settled, upload
from tests.fixtures.fake_openai import fake_openai_server
from tests.fixtures.pdf import pdf

MANUAL = b"""# Printer manual

## Paper

Error ERR-4417 means the printer is out of paper. Load paper in tray 2.

## Toner

Error ERR-4471 means the toner cartridge is empty. Replace it with cartridge TN-80.

## Warranty

The warranty lasts two years from the date of purchase; keep the receipt.
"""


async def _ask(
    client: httpx.AsyncClient, chat_id: str, content: str, file_ids: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"content": content}
    if file_ids is not None:
        body["file_ids"] = file_ids
    accepted = await client.post(f"/v1/chats/{chat_id}/messages", json=body)
    assert accepted.status_code == 202, accepted.text
    events = await read_events(client, accepted.json()["events_url"])
    assert events[-1].event == "done", events[-1]
    history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
    response_id = accepted.json()["response_id"]
    (answer,) = [m for m in history if m["response_id"] == response_id and m["role"] == "assistant"]
    return text_of(events), answer["metadata"]


async def _uploaded(client: httpx.AsyncClient, data: bytes, name: str, kind: str) -> str:
    made = await upload(client, data, name, kind)
    assert made.status_code == 201, made.text
    assert (await settled(client, made.json()["id"]))["status"] == "ready"
    file_id: str = made.json()["id"]
    return file_id


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as http:
        yield http


class TestOffline:
    async def test_the_builtin_model_quotes_the_passage_and_cites_it(
        self, client: httpx.AsyncClient
    ) -> None:
        manual = await _uploaded(client, MANUAL, "manual.md", "text/markdown")
        chat = await new_chat(client)
        text, metadata = await _ask(client, chat, "What does ERR-4471 mean?", [manual])
        assert "ERR-4471 means the toner cartridge is empty" in text
        assert "manual.md" in text
        first = metadata["citations"][0]
        assert (first["file_id"], first["name"]) == (manual, "manual.md")
        assert isinstance(first["chunk"], int)
        assert first["score"] > 0
        assert metadata["context"]["turns"] == 0
        assert metadata["context"]["summary"] is False
        assert metadata["context"]["passages"] == len(metadata["citations"]) >= 1

    async def test_later_questions_in_the_chat_use_its_files_too(
        self, client: httpx.AsyncClient
    ) -> None:
        manual = await _uploaded(client, MANUAL, "manual.md", "text/markdown")
        chat = await new_chat(client)
        await _ask(client, chat, "What does ERR-4417 mean?", [manual])
        text, metadata = await _ask(client, chat, "How long is the warranty?")
        assert "two years" in text
        assert metadata["context"]["turns"] == 2
        assert metadata["citations"]

    async def test_a_pdf_page_is_cited_by_its_page(self, client: httpx.AsyncClient) -> None:
        document = pdf("Opening hours are nine to five.", "Refund code RX-2291 is final.")
        report = await _uploaded(client, document, "policy.pdf", "application/pdf")
        chat = await new_chat(client)
        text, _ = await _ask(client, chat, "Which refund code?", [report])
        assert "RX-2291" in text
        assert "policy.pdf, page 2" in text

    async def test_a_chat_without_files_cites_nothing(self, client: httpx.AsyncClient) -> None:
        await _uploaded(client, MANUAL, "manual.md", "text/markdown")  # not attached
        chat = await new_chat(client)
        text, metadata = await _ask(client, chat, "What does ERR-4471 mean?")
        assert "ERR-4471" not in text
        assert metadata["citations"] == []
        assert metadata["context"]["passages"] == 0

    async def test_someone_elses_or_no_file_is_a_404_and_nothing_is_stored(
        self, client: httpx.AsyncClient
    ) -> None:
        chat = await new_chat(client)
        refused = await client.post(
            f"/v1/chats/{chat}/messages",
            json={"content": "hi", "file_ids": ["01a2482b-06bc-720e-8735-850b2fa9e42e"]},
        )
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        assert "01a2482b-06bc-720e-8735-850b2fa9e42e" in refused.json()["detail"]
        assert (await client.get(f"/v1/chats/{chat}/messages")).json() == []


class TestWithAProvider:
    async def test_the_prompt_carries_the_passages_numbered(self, tmp_path: Path) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm="openai:fake-tokens-5", openai_base_url=fake.url)
            async with serve(settings) as client:
                manual = await _uploaded(client, MANUAL, "manual.md", "text/markdown")
                chat = await new_chat(client)
                _, metadata = await _ask(client, chat, "What does ERR-4471 mean?", [manual])
            sent = [r for r in fake.requests if "messages" in r][-1]
        system = sent["messages"][0]["content"]
        assert "[1] manual.md" in system
        assert "Error ERR-4471 means the toner cartridge is empty" in system
        assert sent["messages"][-1] == {"role": "user", "content": "What does ERR-4471 mean?"}
        assert metadata["citations"][0]["name"] == "manual.md"
        assert metadata["provider"] == "openai"

    async def test_knowledge_search_reads_the_askers_files_not_only_the_attached(
        self, tmp_path: Path
    ) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm="openai:fake-tokens-5", openai_base_url=fake.url)
            async with serve(settings) as client:
                await _uploaded(client, MANUAL, "manual.md", "text/markdown")  # not attached
                chat = await new_chat(client)
                text, metadata = await _ask(
                    client, chat, '[call knowledge_search {"query": "ERR-4471 toner"}]'
                )
            offered = [t["function"]["name"] for t in fake.requests[-2]["tools"]]
        assert "knowledge_search" in offered
        (call,) = metadata["tool_calls"]
        assert call["name"] == "knowledge_search"
        assert "[1] manual.md" in text
        assert "ERR-4471 means the toner cartridge is empty" in text
