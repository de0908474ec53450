"""Tools from configuration: HTTP endpoints (n8n webhooks too) and MCP servers.

``load_tools`` reads a tools.yaml (see ``examples/tools.yaml``) and returns ready
``Tool`` objects for the ``ToolRegistry``; only ``chatorch.wiring`` imports it. Inside,
imports go one way: ``loader`` builds on ``config`` (the file's format and checks),
``http`` and ``mcp``; ``mcp`` builds on ``config``. The MCP SDK is imported only when
a server is configured (``chatorch.adapters.tools.mcp``), as it takes most of a second.
"""

from chatorch.adapters.tools.config import ToolConfigError
from chatorch.adapters.tools.http import HttpTool
from chatorch.adapters.tools.loader import BUILTIN_TOOL_NAMES, load_tools

__all__ = ["BUILTIN_TOOL_NAMES", "HttpTool", "ToolConfigError", "load_tools"]
