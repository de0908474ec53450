"""The tool registry: built-in tools always, plus the HTTP tools and MCP servers of
CHATORCH_TOOLS_FILE where answers are made."""

from contextlib import AsyncExitStack

import httpx

from chatorch.adapters.tools import ToolConfigError, load_tools
from chatorch.services.tools import ToolRegistry, builtin_tools
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError


async def build_tools(settings: Settings, stack: AsyncExitStack, *, declared: bool) -> ToolRegistry:
    """``declared``: load the tools file too (a gateway makes no answers, so needs none)."""
    tools = ToolRegistry()
    for tool in builtin_tools():
        tools.register(tool)
    if declared and settings.tools_file:
        http = httpx.AsyncClient(follow_redirects=False)
        stack.push_async_callback(http.aclose)
        try:
            loaded = await load_tools(settings.tools_file, stack=stack, http=http)
        except (ToolConfigError, OSError) as error:
            raise StartupError(f"CHATORCH_TOOLS_FILE: {error}") from error
        for tool in loaded:  # MCP sessions live in ``stack``
            tools.register(tool)
    return tools
