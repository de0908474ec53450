"""The tool registry: looks tools up by name and runs the model's calls safely.

Whatever a tool does — unknown name, bad arguments, failure, hang or crash — ``run``
returns a ``ToolResult`` the model can read, so one bad call never breaks an answer.
"""

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from chatorch import tracing
from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolCall, ToolSpec
from chatorch.ports.tools import Tool

log = structlog.get_logger(__name__)

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


@dataclass(slots=True, frozen=True)
class ToolResult:
    """The outcome of one tool call; ``output`` is what the model reads next."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    ok: bool
    output: str
    duration_ms: float


class ToolRegistry:
    """Tools by name; runs calls with a timeout and turns every failure into text."""

    def __init__(self, tools: Iterable[Tool] = (), *, max_output_chars: int = 8000) -> None:
        self._tools: dict[str, Tool] = {}
        self._max_output_chars = max_output_chars
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        name = tool.spec.name
        if name in self._tools:
            raise ValueError(f"a tool named {name!r} is already registered")
        self._tools[name] = tool

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self._tools.values())

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    async def run(self, call: ToolCall, *, timeout: float) -> ToolResult:
        """Run one call; never raises for a tool's problems (only for cancellation).

        ``timeout`` (s) bounds this one call: an outer ``asyncio.timeout`` would cancel
        the whole step instead of turning the slow tool into a readable result.
        """
        started = time.perf_counter()
        with tracing.tool_call(call.name, call.id) as span:
            ok, output = await self._attempt(call, timeout)
            if not ok:  # the model reads the failure; the trace shows it too
                tracing.failed(span, detail=output[:200])
        return ToolResult(
            call_id=call.id,
            name=call.name,
            arguments=call.arguments,
            ok=ok,
            output=self._truncate(output),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    async def run_all(
        self,
        calls: Iterable[ToolCall],
        *,
        timeout: float,
    ) -> list[ToolResult]:
        """Run independent calls concurrently; results come back in call order."""
        return list(await asyncio.gather(*(self.run(call, timeout=timeout) for call in calls)))

    async def _attempt(self, call: ToolCall, seconds: float) -> tuple[bool, str]:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return False, f"unknown tool {call.name!r}; available tools: {known}"
        problem = check_arguments(tool.spec.parameters, call.arguments)
        if problem is not None:
            return False, f"invalid arguments for {call.name}: {problem}"
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return True, await tool.call(dict(call.arguments))
        except ToolFailed as exc:
            return False, f"{call.name} failed: {exc.detail}"
        except TimeoutError:
            if scope.expired():
                return False, f"{call.name} did not finish within {seconds:g} s"
            log.exception("tool_crashed", tool=call.name)
        except Exception as error:
            log.exception("tool_crashed", tool=call.name)
            tracing.failed(tracing.current(), error)
        return False, f"internal error in tool {call.name}"

    def _truncate(self, output: str) -> str:
        limit = self._max_output_chars
        if len(output) <= limit:
            return output
        marker = f"\n[output truncated: {len(output)} characters, showing the first part]"
        return output[: max(limit - len(marker), 0)] + marker


def check_arguments(schema: Mapping[str, Any], arguments: object) -> str | None:
    """A light JSON-schema check: an object, its required keys, top-level types.

    Returns a plain-language problem, or None when the arguments look right.
    """
    if not isinstance(arguments, dict):
        return "arguments must be a JSON object"
    missing = [key for key in schema.get("required", ()) if key not in arguments]
    if missing:
        return f"missing required {', '.join(repr(key) for key in missing)}"
    properties: Mapping[str, Any] = schema.get("properties") or {}
    for key, value in arguments.items():
        declared = properties.get(key, {}).get("type")
        if declared is not None and not _has_type(value, declared):
            return f"{key!r} must be of type {declared}"
    if schema.get("additionalProperties") is False:
        extra = sorted(set(arguments) - set(properties))
        if extra:
            return f"unexpected {', '.join(repr(key) for key in extra)}"
    return None


def _has_type(value: object, declared: str | list[str]) -> bool:
    names = [declared] if isinstance(declared, str) else declared
    for name in names:
        kinds = _JSON_TYPES.get(name)
        if kinds is None:
            return True  # a type we do not check
        if isinstance(value, bool) and name != "boolean":
            continue
        if isinstance(value, kinds):
            return True
    return False
