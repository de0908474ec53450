"""The Tool contract: built-in, HTTP and MCP tools pass one suite.

HTTP tools call a local server (``tests/fixtures/tools_http_server.py``), MCP tools a
real MCP server started over stdio (``tests/fixtures/mcp_server.py``); both are made
from a tools file by ``load_tools``, as the app makes them. A tool describes itself
with a name models accept and a JSON schema; a call answers in text or raises
``ToolFailed`` with words the model can read. A call that outlives its deadline only
exists where there is something to wait for: ``TestDeadline`` asks it of the HTTP and
MCP tools; the built-in ones compute at once. The MCP transports (stdio, streamable
HTTP) and each adapter's wording are in the unit tests.
"""

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest

from chatorch.adapters.tools import load_tools
from chatorch.domain.errors import ToolFailed
from chatorch.ports.tools import Tool
from chatorch.services.tools import builtin_tools
from tests.fixtures.tools_http_server import tools_http_server

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # what the model APIs accept
DEADLINE = 0.3  # s

Held = TypeVar("Held")


@dataclass(frozen=True)
class Call:
    tool: Tool
    arguments: dict[str, Any]

    async def __call__(self) -> str:
        return await self.tool.call(dict(self.arguments))


@dataclass(frozen=True)
class Toolbox:
    """One kind's tools, and a call of each kind the contract asks about.

    ``answer`` succeeds with text containing ``answered``; ``invalid`` has arguments
    its schema refuses; ``failing`` cannot produce a result, for ``reason``; ``slow``
    (None for tools that never wait) would take seconds.
    """

    kind: str
    tools: list[Tool]
    answer: Call
    answered: str
    invalid: Call
    failing: Call
    reason: str
    slow: Call | None = None


def _by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.spec.name: tool for tool in tools}


def _builtin() -> Toolbox:
    tools = builtin_tools()
    calculator = _by_name(tools)["calculator"]
    return Toolbox(
        kind="builtin",
        tools=tools,
        answer=Call(calculator, {"expression": "12*7"}),
        answered="84",
        invalid=Call(calculator, {"expression": 12}),
        failing=Call(calculator, {"expression": "1/0"}),
        reason="division by zero",
    )


async def _loaded(text: str, tmp_path: Path, stack: AsyncExitStack) -> dict[str, Tool]:
    path = tmp_path / "tools.yaml"
    path.write_text(text, encoding="utf-8")
    client = await stack.enter_async_context(httpx.AsyncClient())
    return _by_name(await load_tools(path, stack=stack, http=client))


@asynccontextmanager
async def _http(tmp_path: Path) -> AsyncIterator[Toolbox]:
    async with tools_http_server() as server, AsyncExitStack() as stack:
        text = f"""
http:
  - name: item
    description: Look an item up by its id.
    method: GET
    url: {server.url}/echo/items/{{id}}
    parameters: {{type: object, properties: {{id: {{type: string}}}}, required: [id]}}
  - name: broken
    description: An endpoint whose server fails.
    url: {server.url}/fail
  - name: sluggish
    description: An endpoint that answers after 5 s.
    url: {server.url}/slow
    timeout: 30
"""
        tools = await _loaded(text, tmp_path, stack)
        yield Toolbox(
            kind="http",
            tools=list(tools.values()),
            answer=Call(tools["item"], {"id": "42"}),
            answered="/echo/items/42",
            invalid=Call(tools["item"], {"name": "42"}),
            failing=Call(tools["broken"], {}),
            reason="HTTP 500",
            slow=Call(tools["sluggish"], {}),
        )


@asynccontextmanager
async def _mcp(tmp_path: Path) -> AsyncIterator[Toolbox]:
    async with AsyncExitStack() as stack:
        text = f"""
mcp:
  - name: fx
    command: ["{sys.executable}", "-m", "tests.fixtures.mcp_server"]
    cwd: "{ROOT}"
"""
        tools = await _loaded(text, tmp_path, stack)
        yield Toolbox(
            kind="mcp",
            tools=list(tools.values()),
            answer=Call(tools["fx__add"], {"a": 2, "b": 3}),
            answered="5",
            invalid=Call(tools["fx__add"], {"a": "two", "b": 3}),
            failing=Call(tools["fx__fail"], {"reason": "the disk is on fire"}),
            reason="the disk is on fire",
            slow=Call(tools["fx__sleep"], {"seconds": 10}),
        )


@asynccontextmanager
async def _toolbox(kind: str, tmp_path: Path) -> AsyncIterator[Toolbox]:
    if kind == "builtin":
        yield _builtin()
        return
    async with (_http if kind == "http" else _mcp)(tmp_path) as toolbox:
        yield toolbox


@asynccontextmanager
async def _held(context: AbstractAsyncContextManager[Held]) -> AsyncIterator[Held]:
    """``context`` entered and exited by a task of its own.

    The MCP SDK's anyio task groups must be left by the task that entered them, and
    pytest-asyncio sets a fixture up and tears it down in different tasks.
    """
    entered: asyncio.Future[Held] = asyncio.get_running_loop().create_future()
    leave = asyncio.Event()

    async def hold() -> None:
        try:
            async with context as value:
                entered.set_result(value)
                await leave.wait()
        except BaseException as exc:
            if not entered.done():
                entered.set_exception(exc)
            raise

    holder = asyncio.create_task(hold())
    try:
        yield await entered
    finally:
        leave.set()
        await holder


@pytest.fixture(params=["builtin", "http", "mcp"])
async def toolbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Toolbox]:
    async with _held(_toolbox(request.param, tmp_path)) as made:
        yield made


@pytest.fixture(params=["http", "mcp"])
async def remote(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Toolbox]:
    async with _held(_toolbox(request.param, tmp_path)) as made:
        yield made


class TestDescription:
    async def test_every_tool_has_a_name_models_accept(self, toolbox: Toolbox) -> None:
        names = [tool.spec.name for tool in toolbox.tools]
        assert all(NAME.fullmatch(name) for name in names), names
        assert len(set(names)) == len(names)
        assert all(tool.spec.description.strip() for tool in toolbox.tools)

    async def test_every_schema_is_a_json_schema_of_an_object(self, toolbox: Toolbox) -> None:
        for tool in toolbox.tools:
            schema = tool.spec.parameters
            jsonschema.validators.validator_for(schema).check_schema(schema)
            assert schema["type"] == "object"
            assert isinstance(schema["properties"], dict)
            assert set(schema.get("required", ())) <= set(schema["properties"])

    async def test_the_schema_admits_a_good_call_and_refuses_a_bad_one(
        self, toolbox: Toolbox
    ) -> None:
        answer, invalid = toolbox.answer, toolbox.invalid
        jsonschema.validate(answer.arguments, answer.tool.spec.parameters)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(invalid.arguments, invalid.tool.spec.parameters)


class TestCalls:
    async def test_a_call_answers_in_text(self, toolbox: Toolbox) -> None:
        result = await toolbox.answer()
        assert isinstance(result, str)
        assert toolbox.answered in result

    async def test_arguments_the_schema_refuses_are_refused(self, toolbox: Toolbox) -> None:
        # The registry checks arguments before calling; a tool must not rely on it.
        with pytest.raises(ToolFailed) as refused:
            await toolbox.invalid()
        assert refused.value.detail.strip()

    async def test_a_call_that_cannot_be_answered_says_why(self, toolbox: Toolbox) -> None:
        with pytest.raises(ToolFailed) as failed:
            await toolbox.failing()
        assert toolbox.reason in failed.value.detail

    async def test_a_failed_call_leaves_the_tool_usable(self, toolbox: Toolbox) -> None:
        for call in (toolbox.invalid, toolbox.failing):
            with pytest.raises(ToolFailed):
                await call()
        assert toolbox.answered in await toolbox.answer()


class TestDeadline:
    async def test_a_call_past_its_deadline_stops_at_once(self, remote: Toolbox) -> None:
        assert remote.slow is not None
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(DEADLINE):  # as the registry bounds every call
                await remote.slow()
        assert time.monotonic() - started < DEADLINE + 1

    async def test_the_tools_answer_after_a_call_timed_out(self, remote: Toolbox) -> None:
        assert remote.slow is not None
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(remote.slow(), DEADLINE)
        assert remote.answered in await asyncio.wait_for(remote.answer(), 5)
