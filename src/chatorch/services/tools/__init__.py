"""Tools the model may call, and the registry that runs them safely."""

from chatorch.ports.tools import Tool
from chatorch.services.tools.calculator import Calculator
from chatorch.services.tools.clock import CurrentTime
from chatorch.services.tools.registry import ToolRegistry, ToolResult

__all__ = ["Calculator", "CurrentTime", "ToolRegistry", "ToolResult", "builtin_tools"]


def builtin_tools() -> list[Tool]:
    """The tools every deployment has: they need no network and no secrets."""
    return [Calculator(), CurrentTime()]
