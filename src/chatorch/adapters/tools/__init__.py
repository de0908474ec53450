"""Tools from configuration: HTTP endpoints (n8n webhooks too) and MCP servers.

``load_tools`` reads a tools.yaml (see ``examples/tools.yaml``) and returns ready
``Tool`` objects for the ``ToolRegistry``. The MCP SDK is imported only when a server
is configured (``chatorch.adapters.tools.mcp``), as it takes most of a second.
"""

from chatorch.adapters.tools.config import BUILTIN_TOOL_NAMES, ToolConfigError, load_tools
from chatorch.adapters.tools.http import HttpTool

__all__ = ["BUILTIN_TOOL_NAMES", "HttpTool", "ToolConfigError", "load_tools"]
