"""MCP tools: every tool of a Model Context Protocol server, callable by the model.

One session per configured server — a subprocess over stdio, or streamable HTTP — is
opened at load time and kept until the app's exit stack closes. Each server tool becomes
``<server>__<tool>``: model APIs only accept names matching ``^[a-zA-Z0-9_-]{1,64}$``,
so the usual ``server.tool`` is not an option (other characters become ``_``; names
too long are cut and suffixed with a hash). There is no reconnection: when a server
dies its tools fail with a readable message until the app restarts.

A stdio server inherits only the SDK's minimal environment (HOME, PATH, USER, …) plus
its configured ``env``, so the app's own secrets do not leak into third-party servers;
its stderr is the app's stderr.
"""

import hashlib
import json
import re
import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from chatorch import __version__
from chatorch.adapters.tools.config import McpServerConfig, ToolConfigError
from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolSpec
from chatorch.ports.tools import Tool

SEPARATOR = "__"
MAX_NAME_CHARS = 64
_MAX_PAGES = 100  # of tools/list: a server that paginates forever cannot hang startup
_MAX_REASON_CHARS = 300
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_CLIENT_INFO = types.Implementation(name="chatorch", version=__version__)
# Connect/write bound the handshake; reads stay long, a server may stream a slow result.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


class McpServer:
    """One open MCP session; all of the server's tools call through it."""

    def __init__(self, name: str, session: ClientSession) -> None:
        self.name = name
        self._session = session

    def __repr__(self) -> str:
        return f"McpServer(name={self.name!r})"

    async def list_tools(self) -> list[types.Tool]:
        """Every tool the server offers, following pagination."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = None if cursor is None else types.PaginatedRequestParams(cursor=cursor)
            page = await self._session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> str:
        """Run ``tool`` on the server and return its content as text.

        Raises:
            ToolFailed: the tool reported an error, the server refused the call, or the
                connection is gone.
        """
        try:
            result = await self._session.call_tool(tool, arguments)
        except MCPError as exc:
            raise ToolFailed(f"MCP server {self.name!r}: {exc.message}") from None
        except _GONE:
            raise ToolFailed(f"MCP server {self.name!r} is not connected") from None
        text = render_result(result)
        if result.is_error:
            raise ToolFailed(text or "the tool reported an error without a message")
        return text


class McpTool:
    """One server tool, exposed to the model as ``<server>__<tool>``."""

    def __init__(self, server: McpServer, tool: types.Tool) -> None:
        self._server = server
        self._remote_name = tool.name
        self._spec = ToolSpec(
            name=tool_name(server.name, tool.name),
            description=tool.description or tool.title or f"{tool.name} (MCP server {server.name})",
            parameters=_object_schema(tool.input_schema),
        )

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def remote_name(self) -> str:
        """The tool's name on its server."""
        return self._remote_name

    def __repr__(self) -> str:
        return f"McpTool(name={self._spec.name!r}, server={self._server.name!r})"

    async def call(self, arguments: dict[str, Any]) -> str:
        return await self._server.call_tool(self._remote_name, arguments)


async def connect_mcp(config: McpServerConfig, stack: AsyncExitStack) -> list[Tool]:
    """Start (or reach) the server, initialize, and return one ``McpTool`` per tool.

    The session is entered on ``stack`` and closes with it, in the task that called
    this (anyio task groups require it). ``config`` is used as given: ``${VAR}`` was
    resolved when it was validated.

    Raises:
        ToolConfigError: the server did not start, initialize or list its tools within
            ``startup_timeout``; the one-line message names the server. Nothing is left
            running.
    """
    failure: Exception | None = None
    try:
        async with AsyncExitStack() as own:
            try:
                session = await _open_session(config, own)
                with anyio.fail_after(config.startup_timeout):
                    await session.initialize()
                    server = McpServer(config.name, session)
                    listed = await server.list_tools()
            except Exception as exc:
                failure = exc  # raised below, not through the task groups (which wrap it)
            else:
                stack.push_async_exit(own.pop_all())
    except Exception as exc:  # stopping what did start failed as well
        failure = failure or exc
    if failure is not None:
        reason = _reason(failure, config)
        raise ToolConfigError(f"MCP server {config.name!r} could not start: {reason}") from failure
    return [McpTool(server, tool) for tool in listed]


def tool_name(server: str, tool: str) -> str:
    """``<server>__<tool>``, made to match ``^[a-zA-Z0-9_-]{1,64}$``."""
    name = f"{server}{SEPARATOR}{_INVALID_NAME_CHARS.sub('_', tool)}"
    if len(name) <= MAX_NAME_CHARS:
        return name
    digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME_CHARS - len(digest) - 1]}_{digest}"


def render_result(result: types.CallToolResult) -> str:
    """The result's content blocks as text; binary blocks are summarised, not inlined."""
    parts = [_render_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False, default=str)
    return "\n".join(parts)


def _render_block(block: types.ContentBlock) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        return f"[{block.mime_type}, {_size(block.data)}]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        kind = resource.mime_type or "binary"
        return f"[{kind} resource {resource.uri}, {_size(resource.blob)}]"
    kind = f", {block.mime_type}" if block.mime_type else ""
    return f"[resource link {block.uri}{kind}]"


def _size(base64_data: str) -> str:
    """The decoded size of base64 data, for people: ``830 B``, ``12 kB``, ``3.4 MB``."""
    size = len(base64_data) * 3 // 4 - base64_data[-2:].count("=")
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB"


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": "object", "properties": schema.get("properties") or {}}


async def _open_session(config: McpServerConfig, stack: AsyncExitStack) -> ClientSession:
    if config.command is not None:
        params = StdioServerParameters(
            command=config.command[0],
            args=[*config.command[1:], *config.args],
            env=dict(config.env) or None,
            cwd=config.cwd,
        )
        # The process's own stderr, even when sys.stderr was swapped for an object with
        # no file descriptor (a test's capture): the server process needs a real one.
        errlog = sys.__stderr__ or sys.stderr
        read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
    else:
        assert config.url is not None  # the config allows exactly one transport
        client = await stack.enter_async_context(
            httpx2.AsyncClient(headers=config.headers, timeout=_HTTP_TIMEOUT)
        )
        read, write = await stack.enter_async_context(
            streamable_http_client(config.url, http_client=client)
        )
    session = ClientSession(read, write, client_info=_CLIENT_INFO)
    return await stack.enter_async_context(session)


def _reason(exc: BaseException, config: McpServerConfig) -> str:
    """The root cause in one line, without secrets (headers and env are never shown)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return f"no answer within {config.startup_timeout:g} s"
    if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
        text = f"{exc.message} before initialize finished (see the server's stderr)"
    elif isinstance(exc, MCPError):
        text = exc.message
    elif isinstance(exc, OSError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    lines = text.strip().splitlines() or [type(exc).__name__]
    return lines[0][:_MAX_REASON_CHARS]
