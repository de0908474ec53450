"""Declared tools through the pipeline: HTTP (an n8n-style webhook) and an MCP server."""

import sys
from pathlib import Path

import pytest

from tests.api.conftest import ask, new_chat, read_events, serve, settings_for, text_of
from tests.fixtures.fake_openai import fake_openai_server
from tests.fixtures.tools_http_server import tools_http_server

ROOT = Path(__file__).resolve().parents[2]


def _tools_file(tmp_path: Path, http_url: str) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(
        f"""
http:
  - name: lookup
    description: Look a city up (an n8n webhook workflow in production).
    method: POST
    url: {http_url}/echo/webhook
    headers: {{X-N8N-Key: "${{N8N_KEY}}"}}
    parameters:
      type: object
      properties: {{city: {{type: string}}}}
      required: [city]
mcp:
  - name: local
    command: ["{sys.executable}", "-m", "tests.fixtures.mcp_server"]
    cwd: "{ROOT}"
""",
        encoding="utf-8",
    )
    return path


class TestDeclaredTools:
    async def test_the_model_calls_builtin_http_and_mcp_tools_in_one_step(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("N8N_KEY", "secret-n8n-key")
        question = (
            'Three things. [call calculator {"expression": "12*7"}] '
            '[call lookup {"city": "Lisbon"}] [call local__add {"a": 2, "b": 3}]'
        )
        async with tools_http_server() as http, fake_openai_server() as fake:
            settings = settings_for(
                tmp_path,
                llm="openai:fake-tools",
                openai_base_url=fake.url,
                tools_file=str(_tools_file(tmp_path, http.url)),
            )
            async with serve(settings) as client:
                chat_id = await new_chat(client)
                accepted = await ask(client, chat_id, question)
                events = await read_events(client, accepted["events_url"])
                history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        offered = {t["function"]["name"] for t in fake.requests[0]["tools"]}
        assert {"calculator", "current_time", "lookup", "local__add"} <= offered
        (act,) = [e for e in events if e.event == "step" and e.data["stage"] == "act"]
        calls = {c["name"]: c for c in act.data["detail"]["calls"]}
        assert calls["calculator"]["output"] == "84"
        assert calls["local__add"]["output"] == "5"
        assert calls["lookup"]["ok"]
        (webhook,) = http.requests
        assert webhook["headers"]["x-n8n-key"] == "secret-n8n-key"
        assert webhook["body"] == {"city": "Lisbon"}
        answer = text_of(events)
        assert answer.startswith("The answer is 84;")
        assert answer.endswith("; 5.")
        assert history[-1]["content"] == answer
        assert [c["name"] for c in history[-1]["metadata"]["tool_calls"]] == [
            "calculator",
            "lookup",
            "local__add",
        ]
