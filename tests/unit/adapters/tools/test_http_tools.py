"""HTTP tools against a real local server: what is sent, what comes back, what fails.

What every tool promises is the contract suite's: tests/contract/test_tools.py.
"""

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatorch.adapters.tools import HttpTool, load_tools
from chatorch.adapters.tools.http import MAX_RESPONSE_BYTES, check_url_template
from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolCall
from chatorch.services.tools.registry import ToolRegistry
from tests.fixtures.tools_http_server import ToolsHttpServer, tools_http_server

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "id": {"type": "string"},
        "units": {"type": "string"},
        "days": {"type": "integer"},
    },
}


@pytest.fixture
async def server() -> AsyncIterator[ToolsHttpServer]:
    async with tools_http_server() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def make_tool(client: httpx.AsyncClient, url: str, **options: Any) -> HttpTool:
    options.setdefault("parameters", SCHEMA)
    return HttpTool(name="probe", description="A test endpoint.", url=url, client=client, **options)


async def test_get_sends_arguments_as_query_and_fills_the_path(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, f"{server.url}/echo/weather/{{city}}?units=metric", method="GET")

    result = await tool.call({"city": "São Paulo/SP", "days": 3, "units": "imperial"})

    echoed = json.loads(result)
    assert echoed["method"] == "GET"
    assert echoed["path"] == "/echo/weather/S%C3%A3o%20Paulo%2FSP"
    assert echoed["query"] == {"units": ["imperial"], "days": ["3"]}  # an argument overrides
    assert echoed["body"] is None
    defaults = json.loads(await tool.call({"city": "Lima"}))
    assert defaults["query"] == {"units": ["metric"]}  # the URL's own query is kept


async def test_query_values_are_spelled_like_json(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, f"{server.url}/echo/q", method="GET")

    result = json.loads(
        await tool.call({"flag": True, "tags": ["a", "b"], "skip": None, "filter": {"x": 1}})
    )

    assert result["query"] == {"flag": ["true"], "tags": ["a", "b"], "filter": ['{"x":1}']}


async def test_post_sends_the_remaining_arguments_as_json(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, f"{server.url}/echo/items/{{id}}")

    result = await tool.call({"id": "42", "city": "Zürich", "days": 2})

    echoed = json.loads(result)
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo/items/42"
    assert echoed["body"] == {"city": "Zürich", "days": 2}  # id is in the path only
    assert echoed["headers"]["content-type"] == "application/json"
    assert "Zürich" in result  # ensure_ascii=False: the model reads the real text


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods(
    server: ToolsHttpServer, client: httpx.AsyncClient, method: str
) -> None:
    tool = make_tool(client, f"{server.url}/echo/x", method=method)

    echoed = json.loads(await tool.call({"city": "Oslo"}))

    assert echoed["method"] == method
    if method == "DELETE":
        assert echoed["query"] == {"city": ["Oslo"]}
        assert echoed["body"] is None
    else:
        assert echoed["body"] == {"city": "Oslo"}


async def test_headers_from_the_environment_arrive(
    server: ToolsHttpServer,
    client: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBE_KEY", "k-123456789")
    path = tmp_path / "tools.yaml"
    path.write_text(
        f"""
http:
  - name: n8n_flow
    description: Start the workflow.
    url: {server.url}/echo/webhook/abc
    headers:
      X-N8N-Key: ${{PROBE_KEY}}
      Authorization: Bearer ${{PROBE_KEY}}
""",
        encoding="utf-8",
    )
    async with AsyncExitStack() as stack:
        [tool] = await load_tools(path, stack=stack, http=client)

        await tool.call({"note": "hi"})

    headers = server.requests[-1]["headers"]
    assert headers["x-n8n-key"] == "k-123456789"
    assert headers["authorization"] == "Bearer k-123456789"
    assert server.requests[-1]["body"] == {"note": "hi"}
    assert "k-123456789" not in repr(tool)


async def test_text_and_json_results(server: ToolsHttpServer, client: httpx.AsyncClient) -> None:
    assert await make_tool(client, f"{server.url}/text").call({}) == "plain words"
    assert await make_tool(client, f"{server.url}/bad-json").call({}) == "{not json"
    assert await make_tool(client, f"{server.url}/empty").call({}) == "HTTP 204, empty response"


async def test_a_huge_response_is_cut(server: ToolsHttpServer, client: httpx.AsyncClient) -> None:
    result = await make_tool(client, f"{server.url}/big").call({})

    assert result.startswith("x" * 1000)
    assert result.endswith(f"[response cut at {MAX_RESPONSE_BYTES} bytes]")
    assert len(result) < MAX_RESPONSE_BYTES + 100


async def test_http_error_names_tool_status_and_host(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    host = server.url.removeprefix("http://")

    with pytest.raises(ToolFailed) as failure:
        await make_tool(client, f"{server.url}/fail").call({})

    message = failure.value.detail
    assert message.startswith(f"probe: HTTP 500 from {host}: database exploded details")
    assert "\n" not in message
    assert len(message) < 300


async def test_an_echoed_secret_is_redacted(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(
        client, f"{server.url}/echo-key", headers={"Authorization": "Bearer sk-very-secret"}
    )

    with pytest.raises(ToolFailed) as failure:
        await tool.call({})

    assert "HTTP 401" in failure.value.detail
    assert "sk-very-secret" not in failure.value.detail
    assert "[redacted]" in failure.value.detail


async def test_redirects_are_not_followed(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ToolFailed, match=r"HTTP 302.*redirect"):
        await make_tool(client, f"{server.url}/redirect").call({})

    assert [r["path"] for r in server.requests] == ["/redirect"]


async def test_a_slow_endpoint_times_out(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, f"{server.url}/slow", timeout=0.2)

    with pytest.raises(ToolFailed, match=r"probe: 127\.0\.0\.1:\d+ did not answer within 0\.2 s"):
        await tool.call({})


async def test_an_unreachable_host(client: httpx.AsyncClient) -> None:
    tool = make_tool(client, "http://127.0.0.1:1/nothing")

    with pytest.raises(ToolFailed, match=r"probe: could not reach 127\.0\.0\.1:1: "):
        await tool.call({})


async def test_path_arguments_are_checked(
    server: ToolsHttpServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, f"{server.url}/echo/items/{{id}}")

    with pytest.raises(ToolFailed, match="'id' is needed to build the URL"):
        await tool.call({"city": "x"})
    with pytest.raises(ToolFailed, match=r"'id' cannot be '\.\.'"):
        await tool.call({"id": ".."})
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://{city}.example.com/x", "not the host"),
        ("https://example.com/{town}", "town is not declared"),
        ("https://example.com/{city", "brace"),
        ("ftp://example.com/x", "http:// or https://"),
        ("/relative", "http:// or https://"),
    ],
)
def test_unsafe_url_templates_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_url_template(url, SCHEMA["properties"])


async def test_through_the_registry(server: ToolsHttpServer, client: httpx.AsyncClient) -> None:
    registry = ToolRegistry([make_tool(client, f"{server.url}/fail")])
    call = ToolCall(id="c1", name="probe", arguments={})

    result = await registry.run(call, timeout=5)

    assert not result.ok
    assert result.output.startswith("probe failed: probe: HTTP 500 from")
