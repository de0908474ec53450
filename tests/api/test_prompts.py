"""Prompt templates through the API: versions listed and added by the roles allowed,
broken or escaping templates refused with their line, and a new version used by the
next answer — the server's, and a bot's own."""

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from chatorch.domain.entities import AccessRole
from chatorch.services.templates import SUMMARY, SYSTEM
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import ask, new_chat, read_events, serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server
from tests.fixtures.fake_telegram import fake_telegram, update

SHOWN = {"name", "version", "template", "created_at"}


async def _put(client: httpx.AsyncClient, name: str, template: str) -> httpx.Response:
    return await client.put(f"/v1/prompts/{name}", json={"template": template})


class TestReading:
    async def test_the_builtin_templates_are_version_1(self, client: httpx.AsyncClient) -> None:
        listed = await client.get("/v1/prompts")
        assert listed.status_code == 200
        assert listed.json() == [
            {"name": "summary", "version": 1, "template": SUMMARY, "created_at": None},
            {"name": "system", "version": 1, "template": SYSTEM, "created_at": None},
        ]
        current = await client.get("/v1/prompts/system")
        assert current.json() == listed.json()[1]
        versions = await client.get("/v1/prompts/summary/versions")
        assert versions.json() == [listed.json()[0]]

    async def test_an_unknown_name_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        for path in ("/v1/prompts/support", "/v1/prompts/support/versions"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"] == "no prompt template named 'support'"

    async def test_a_name_outside_the_pattern_is_refused(self, client: httpx.AsyncClient) -> None:
        for name in ("System", "has%20space", "x" * 65):
            refused = await _put(client, name, "Hi.")
            assert refused.status_code == 422, name
            assert refused.headers["content-type"] == "application/problem+json"


class TestNewVersions:
    async def test_put_adds_the_next_version(self, client: httpx.AsyncClient) -> None:
        made = await _put(client, "system", "You are terse. Today is {{ today }}.")
        assert made.status_code == 201, made.text
        body = made.json()
        assert set(body) == SHOWN
        assert (body["name"], body["version"]) == ("system", 2)
        assert body["template"] == "You are terse. Today is {{ today }}."
        assert body["created_at"] is not None
        assert made.headers["location"] == "/v1/prompts/system"
        again = await _put(client, "system", "You are verbose.")
        assert again.json()["version"] == 3
        assert (await client.get("/v1/prompts/system")).json() == again.json()
        versions = (await client.get("/v1/prompts/system/versions")).json()
        assert [v["version"] for v in versions] == [3, 2, 1]
        assert versions[-1]["template"] == SYSTEM

    async def test_a_new_name_starts_at_2(self, client: httpx.AsyncClient) -> None:
        made = await _put(client, "support_de-2", "Antworte auf Deutsch.")
        assert made.status_code == 201, made.text
        assert made.json()["version"] == 2
        names = [p["name"] for p in (await client.get("/v1/prompts")).json()]
        assert names == ["summary", "support_de-2", "system"]

    async def test_puts_at_once_get_versions_of_their_own(self, client: httpx.AsyncClient) -> None:
        made = await asyncio.gather(*(_put(client, "system", f"Racer {n}.") for n in range(5)))
        assert [r.status_code for r in made] == [201] * 5
        assert sorted(r.json()["version"] for r in made) == [2, 3, 4, 5, 6]
        versions = (await client.get("/v1/prompts/system/versions")).json()
        assert len(versions) == 6


class TestRefused:
    @pytest.mark.parametrize(
        ("template", "detail"),
        [
            ("Hello.\n{% if tools %}\nTools!", "line 2: Unexpected end of template"),
            ("Hello.\n\n{{ customer_name }}", "line 3: 'customer_name' is undefined"),
            ("Hi {{ user }}.\n{{ tools | shout }}", "line 2: No filter named 'shout'"),
        ],
    )
    async def test_a_broken_template_is_a_422_with_its_line(
        self, client: httpx.AsyncClient, template: str, detail: str
    ) -> None:
        refused = await _put(client, "system", template)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "invalid_template"
        assert refused.json()["detail"].startswith(detail)
        assert len((await client.get("/v1/prompts/system/versions")).json()) == 1

    @pytest.mark.parametrize(
        "template",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "Hi.\n{{ cycler.__init__.__globals__ }}",
            "{{ namespace.__init__.__globals__['os'] }}",
            "{{ '{0.__class__.__init__.__globals__}'.format(tools) }}",
        ],
    )
    async def test_python_internals_are_out_of_reach(
        self, client: httpx.AsyncClient, template: str
    ) -> None:
        refused = await _put(client, "system", template)
        assert refused.status_code == 422
        assert "unsafe" in refused.json()["detail"]
        assert refused.json()["detail"].startswith("line ")
        assert (await client.get("/v1/prompts/system")).json()["version"] == 1

    async def test_a_body_that_is_not_a_template_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        for body in ({}, {"template": ""}, {"template": "x", "other": 1}, {"template": 3}):
            refused = await client.put("/v1/prompts/system", json=body)
            assert refused.status_code == 422, body
        not_json = await client.put("/v1/prompts/system", content=b"hi", headers={})
        assert not_json.status_code == 415


class TestRoles:
    async def test_reading_needs_operator_and_writing_admin(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)

        async def key(user: str, role: AccessRole) -> dict[str, str]:
            async with store_only(settings) as auth:
                made, _ = await auth.create_key(user_name=user, role=role)
            return {"Authorization": f"Bearer {remember(made)}"}

        user = await key("ann", AccessRole.USER)
        operator = await key("op", AccessRole.OPERATOR)
        admin = await key("root", AccessRole.ADMIN)
        body = {"template": "Be kind."}
        async with serve(settings) as client:
            anonymous = await client.get("/v1/prompts")
            refused = [
                await client.get("/v1/prompts", headers=user),
                await client.get("/v1/prompts/system", headers=user),
                await client.get("/v1/prompts/system/versions", headers=user),
                await client.put("/v1/prompts/system", json=body, headers=user),
                await client.put("/v1/prompts/system", json=body, headers=operator),
            ]
            read = await client.get("/v1/prompts/system/versions", headers=operator)
            made = await client.put("/v1/prompts/system", json=body, headers=admin)
            audited = await client.get("/v1/admin/audit?action=prompt.", headers=admin)
        assert anonymous.status_code == 401
        assert [r.status_code for r in refused] == [403] * 5
        assert refused[-1].json()["detail"] == "this needs the admin role; yours is operator"
        assert read.status_code == 200
        assert made.status_code == 201, made.text
        assert [(e["actor"], e["target"], e["detail"]) for e in audited.json()] == [
            ("root", "system", {"version": 2})
        ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


def _answers(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    path = settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT content, metadata FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    return [(content, json.loads(metadata)) for content, metadata in rows]


class TestAnswers:
    async def test_the_next_answer_uses_the_new_version(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        settings = settings_for(tmp_path, llm="openai:fake-tokens-3", openai_base_url=fake.url)
        async with serve(settings) as client:
            chat_id = await new_chat(client)
            before = await ask(client, chat_id, "hello")
            await read_events(client, before["events_url"])
            made = await _put(client, "system", "You are Zed, on {{ channel }}. {{ date }}")
            assert made.status_code == 201, made.text
            after = await ask(client, chat_id, "hello again")
            await read_events(client, after["events_url"])
            history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        prompts = [m["metadata"]["prompt"] for m in history if m["role"] == "assistant"]
        assert prompts == ["system@1", "system@2"]
        systems = [request["messages"][0] for request in fake.requests]
        assert systems[0]["content"].startswith("You are chatorch, a helpful assistant.")
        assert systems[1]["role"] == "system"
        assert systems[1]["content"].startswith("You are Zed, on api. 20")

    async def test_a_bot_answers_with_its_own_template(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        token, secret = remember("123456:AAHprompt-test-token"), remember("prompt-secret_1")
        async with fake_telegram() as telegram:
            settings = settings_for(
                tmp_path,
                llm="openai:fake-tokens-3",
                openai_base_url=fake.url,
                secret_keys=remember(Fernet.generate_key().decode()),
                telegram_api_url=telegram.url,
            )
            bot: dict[str, Any] = {
                "platform": "telegram",
                "name": "support",
                "credentials": {"token": token, "secret_token": secret},
            }
            async with serve(settings) as client:
                unknown = await client.post("/v1/bots", json=bot | {"prompt": "support"})
                assert (await _put(client, "support", "Orders only, {{ user }}.")).is_success
                made = await client.post("/v1/bots", json=bot | {"prompt": "support"})
                assert made.status_code == 201, made.text
                delivered = await client.post(
                    made.json()["webhook_url"],
                    json=update(1, "where is my order?", user_id=77),
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                )
                assert delivered.status_code == 200
                await _until(lambda: len(_answers(settings)) == 1)
                cleared = await client.patch(f"/v1/bots/{made.json()['id']}", json={"prompt": None})
        assert unknown.status_code == 422
        assert "no template named 'support'" in unknown.json()["detail"]
        assert made.json()["prompt"] == "support"
        ((_, metadata),) = _answers(settings)
        assert metadata["prompt"] == "support@2"
        assert fake.requests[-1]["messages"][0]["content"] == "Orders only, 77."
        assert cleared.json()["prompt"] is None


async def _until(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.05)
