"""Tools from the tools file: HTTP tools made, MCP servers connected, names kept apart.

The file's format and validation are ``config``'s; this module turns a valid file into
running ``Tool`` objects. The MCP SDK is imported only when a server is configured
(``mcp``), as it takes most of a second to import.
"""

from collections.abc import Iterable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import structlog

from chatorch.adapters.tools.config import (
    HttpToolConfig,
    McpServerConfig,
    ToolConfigError,
    read_tools_file,
)
from chatorch.adapters.tools.http import HttpTool
from chatorch.ports.tools import Tool

log = structlog.get_logger(__name__)

BUILTIN_TOOL_NAMES = frozenset({"calculator", "current_time"})
"""Names the app's own tools use; a configured tool may not take them."""


async def load_tools(
    path: str | Path,
    *,
    stack: AsyncExitStack,
    http: httpx.AsyncClient,
    reserved: Iterable[str] = BUILTIN_TOOL_NAMES,
) -> list[Tool]:
    """Read the tools file and return its tools, MCP servers connected and listed.

    MCP sessions are entered on ``stack``: they live until it closes, which must happen
    in the task that called this (the SDK's anyio task groups require it). HTTP tools
    share ``http``, whose lifetime stays with the caller. On any error nothing is left
    running and ``ToolConfigError`` says which entry is wrong.
    """
    tools_file = read_tools_file(path)
    source, http_configs, mcp_configs = tools_file.source, tools_file.http, tools_file.mcp
    taken = {name: "a built-in tool" for name in reserved}
    for index, config in enumerate(http_configs):
        _claim(taken, config.name, source, f"http[{index}] ({config.name})")
    servers: set[str] = set()
    for index, server in enumerate(mcp_configs):
        if server.name in servers:
            raise ToolConfigError(
                f"{source}: mcp[{index}] ({server.name}): another MCP server has this name"
            )
        servers.add(server.name)

    tools: list[Tool] = [_http_tool(config, http) for config in http_configs]
    if mcp_configs:
        tools += await _connect_all(mcp_configs, stack, taken, source)
    log.info("tools_loaded", file=source, tools=[tool.spec.name for tool in tools])
    return tools


async def _connect_all(
    configs: list[McpServerConfig], stack: AsyncExitStack, taken: dict[str, str], source: str
) -> list[Tool]:
    """Connect the servers in order; all stay open on ``stack``, or none on an error."""
    # Imported here: the MCP SDK takes most of a second to import, only worth it when a
    # server is configured.
    from chatorch.adapters.tools.mcp import connect_mcp

    tools: list[Tool] = []
    # A failure is raised once the sessions are closed: raised through their anyio
    # task groups it would come out wrapped in an ExceptionGroup.
    problem: ToolConfigError | None = None
    async with AsyncExitStack() as sessions:
        try:
            for index, server in enumerate(configs):
                try:
                    found = await connect_mcp(server, sessions)
                except ToolConfigError as exc:
                    raise ToolConfigError(f"{source}: mcp[{index}]: {exc}") from exc
                for tool in found:
                    _claim(taken, tool.spec.name, source, f"mcp[{index}] ({server.name})")
                tools += found
        except ToolConfigError as exc:
            problem = exc
        else:
            stack.push_async_exit(sessions.pop_all())
    if problem is not None:
        raise problem
    return tools


def _claim(taken: dict[str, str], name: str, source: str, entry: str) -> None:
    owner = taken.get(name)
    if owner is not None:
        raise ToolConfigError(f"{source}: {entry}: tool name {name!r} is already used by {owner}")
    taken[name] = entry


def _http_tool(config: HttpToolConfig, client: httpx.AsyncClient) -> HttpTool:
    return HttpTool(
        name=config.name,
        description=config.description,
        parameters=config.parameters,
        method=config.method,
        url=config.url,
        headers=config.headers,
        timeout=config.timeout,
        client=client,
    )
