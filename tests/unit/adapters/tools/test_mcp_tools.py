"""MCP tools against a real server (tests/fixtures/mcp_server.py), over stdio and HTTP.

What every tool promises (schema, answer, refusal, failure, deadline) is the contract
suite's: tests/contract/test_tools.py. Here: what only MCP tools do.
"""

import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import mcp_types as types
import pytest

from chatorch.adapters.tools import ToolConfigError, load_tools
from chatorch.adapters.tools.mcp import McpTool, render_result, tool_name
from chatorch.domain.errors import ToolFailed
from chatorch.ports.tools import Tool

ROOT = Path(__file__).resolve().parents[4]
FIXTURE_TOOLS = ["add", "shout", "fail", "picture", "sleep", "crash", "whoami"]


def stdio_entry(name: str = "fx", *, extra: str = "") -> str:
    return f"""
  - name: {name}
    command: ["{sys.executable}", "-m", "tests.fixtures.mcp_server"]
    cwd: "{ROOT}"{extra}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.spec.name: tool for tool in tools}


async def test_stdio_server_tools(
    tmp_path: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIXTURE_TOKEN", "s3cret-token")
    extra = '\n    env: {FIXTURE_SECRET: "${FIXTURE_TOKEN}"}'
    path = write(tmp_path, "mcp:" + stdio_entry(extra=extra))

    async with AsyncExitStack() as stack:
        tools = by_name(await load_tools(path, stack=stack, http=client))

        assert list(tools) == [f"fx__{name}" for name in FIXTURE_TOOLS]
        add = tools["fx__add"]
        assert isinstance(add, McpTool)
        assert add.remote_name == "add"
        assert add.spec.description == "Add two integers."
        assert add.spec.parameters["type"] == "object"
        assert add.spec.parameters["required"] == ["a", "b"]
        assert await add.call({"a": 2, "b": 3}) == "5"
        assert await tools["fx__shout"].call({"text": "hi"}) == "HI!"
        assert await tools["fx__picture"].call({}) == "[image/png, 1 kB]"
        assert await tools["fx__whoami"].call({}) == "s3cret-token"
        with pytest.raises(ToolFailed, match="nope"):
            await tools["fx__fail"].call({"reason": "nope"})


async def test_a_server_that_dies_fails_its_calls(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    path = write(tmp_path, "mcp:" + stdio_entry())

    async with AsyncExitStack() as stack:
        tools = by_name(await load_tools(path, stack=stack, http=client))

        with pytest.raises(ToolFailed, match="MCP server 'fx'"):
            await tools["fx__crash"].call({})
        with pytest.raises(ToolFailed, match="MCP server 'fx'"):
            await tools["fx__add"].call({"a": 1, "b": 2})


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ('"no-such-mcp-server --stdio"', "No such file or directory: 'no-such-mcp-server'"),
        (f'["{sys.executable}", "-c", "pass"]', "Connection closed before initialize finished"),
    ],
)
async def test_a_server_that_does_not_start(
    tmp_path: Path, client: httpx.AsyncClient, command: str, problem: str
) -> None:
    path = write(tmp_path, f"mcp:\n  - name: broken\n    command: {command}\n")

    async with AsyncExitStack() as stack:
        with pytest.raises(ToolConfigError) as failure:
            await load_tools(path, stack=stack, http=client)

    message = str(failure.value)
    assert message.startswith(f"{path}: mcp[0]: MCP server 'broken' could not start: ")
    assert problem in message
    assert "\n" not in message


async def test_a_server_that_never_answers(tmp_path: Path, client: httpx.AsyncClient) -> None:
    silent = f'["{sys.executable}", "-c", "import time; time.sleep(60)"]'
    path = write(
        tmp_path, f"mcp:\n  - name: mute\n    command: {silent}\n    startup_timeout: 0.5\n"
    )

    async with AsyncExitStack() as stack:
        with pytest.raises(ToolConfigError, match=r"'mute' could not start: no answer within 0\.5"):
            await load_tools(path, stack=stack, http=client)


async def test_an_mcp_tool_name_may_not_clash(tmp_path: Path, client: httpx.AsyncClient) -> None:
    http = "http:\n  - {name: fx__add, description: d, url: 'http://127.0.0.1:1/'}\n"
    path = write(tmp_path, http + "mcp:" + stdio_entry())

    async with AsyncExitStack() as stack:
        with pytest.raises(ToolConfigError) as failure:
            await load_tools(path, stack=stack, http=client)

    assert str(failure.value) == (
        f"{path}: mcp[0] (fx): tool name 'fx__add' is already used by http[0] (fx__add)"
    )


# --- streamable HTTP ----------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server_url() -> Iterator[str]:
    """The fixture server over streamable HTTP, as a subprocess on a free port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.mcp_server", "--http", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + 30
        line = ""
        while not line.startswith("listening on ") and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                line = process.stdout.readline()
                if not line:
                    pytest.fail(f"the MCP fixture server exited ({process.poll()})")
        if not line.startswith("listening on "):
            pytest.fail("the MCP fixture server did not start within 30 s")
        yield line.split()[-1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


async def test_streamable_http_server_tools(
    tmp_path: Path,
    client: httpx.AsyncClient,
    http_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMOTE_TOKEN", "t0k3n")
    text = f"""
mcp:
  - name: web
    url: {http_server_url}
    headers: {{Authorization: "Bearer ${{REMOTE_TOKEN}}"}}
"""
    path = write(tmp_path, text)

    async with AsyncExitStack() as stack:
        tools = by_name(await load_tools(path, stack=stack, http=client))

        assert list(tools) == [f"web__{name}" for name in FIXTURE_TOOLS]
        assert await tools["web__add"].call({"a": 2, "b": 3}) == "5"
        assert await tools["web__shout"].call({"text": "remote"}) == "REMOTE!"
        with pytest.raises(ToolFailed, match="nope"):
            await tools["web__fail"].call({"reason": "nope"})


async def test_a_wrong_mcp_url(
    tmp_path: Path, client: httpx.AsyncClient, http_server_url: str
) -> None:
    path = write(tmp_path, f"mcp:\n  - name: lost\n    url: {http_server_url}/missing\n")

    async with AsyncExitStack() as stack:
        with pytest.raises(ToolConfigError, match="MCP server 'lost' could not start: "):
            await load_tools(path, stack=stack, http=client)


# --- naming and rendering -------------------------------------------------------------


def test_tool_names_fit_what_model_apis_accept() -> None:
    assert tool_name("files", "read_file") == "files__read_file"
    assert tool_name("gh", "repos.list/all") == "gh__repos_list_all"
    long = tool_name("server", "x" * 100)
    assert len(long) == 64
    assert long != tool_name("server", "x" * 101)  # the hash keeps cut names apart


def test_content_blocks_render_as_text() -> None:
    result = types.CallToolResult(
        content=[
            types.TextContent(text="first"),
            types.ImageContent(data="A" * 16_000, mime_type="image/png"),
            types.AudioContent(data="QUJD", mime_type="audio/wav"),
            types.EmbeddedResource(
                resource=types.TextResourceContents(uri="file:///a.txt", text="inline text")
            ),
            types.EmbeddedResource(
                resource=types.BlobResourceContents(
                    uri="file:///b.bin", blob="A" * 4_000_000, mime_type="application/pdf"
                )
            ),
            types.ResourceLink(name="c", uri="file:///c.csv", mime_type="text/csv"),
        ]
    )

    assert render_result(result).splitlines() == [
        "first",
        "[image/png, 12 kB]",
        "[audio/wav, 3 B]",
        "inline text",
        "[application/pdf resource file:///b.bin, 3.0 MB]",
        "[resource link file:///c.csv, text/csv]",
    ]


def test_structured_content_alone_is_shown_as_json() -> None:
    result = types.CallToolResult(content=[], structured_content={"temp": 21, "city": "Zürich"})

    assert render_result(result) == '{"temp": 21, "city": "Zürich"}'
