"""The registry turns every tool problem into a readable result and runs calls together."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolCall, ToolSpec
from chatorch.services.tools import (
    Calculator,
    CurrentTime,
    ToolRegistry,
    builtin_tools,
)


class Inline:
    """A test tool whose behaviour is a coroutine function."""

    def __init__(self, name: str, behaviour: Any, parameters: dict[str, Any] | None = None):
        self._spec = ToolSpec(name, f"test tool {name}", parameters or {"type": "object"})
        self._behaviour = behaviour

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    async def call(self, arguments: dict[str, Any]) -> str:
        return str(await self._behaviour(arguments))


def sleeper(seconds: float) -> Any:
    async def behaviour(arguments: dict[str, Any]) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    return behaviour


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call_{name}", name=name, arguments=arguments)


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry(builtin_tools())


async def test_runs_a_tool(registry: ToolRegistry) -> None:
    result = await registry.run(call("calculator", expression="12*7"), timeout=1)
    assert result.ok
    assert result.output == "84"
    assert result.call_id == "call_calculator"
    assert result.arguments == {"expression": "12*7"}
    assert result.duration_ms >= 0


def test_specs_and_lookup(registry: ToolRegistry) -> None:
    assert [spec.name for spec in registry.specs()] == ["calculator", "current_time"]
    assert isinstance(registry.get("calculator"), Calculator)
    assert registry.get("nope") is None
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Calculator())


async def test_unknown_tool(registry: ToolRegistry) -> None:
    result = await registry.run(call("weather", city="Paris"), timeout=1)
    assert not result.ok
    assert "unknown tool 'weather'" in result.output
    assert "calculator" in result.output


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "missing required 'expression'"),
        ({"expression": 12}, "'expression' must be of type string"),
        ({"expression": True}, "'expression' must be of type string"),
    ],
)
async def test_bad_arguments(registry: ToolRegistry, arguments: Any, problem: str) -> None:
    result = await registry.run(ToolCall("c1", "calculator", arguments), timeout=1)
    assert not result.ok
    assert problem in result.output


async def test_arguments_not_an_object(registry: ToolRegistry) -> None:
    result = await registry.run(ToolCall("c1", "calculator", ["12*7"]), timeout=1)  # type: ignore[arg-type]
    assert not result.ok
    assert "must be a JSON object" in result.output


async def test_type_checks_cover_json_types() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "x": {"type": ["number", "null"]}},
        "additionalProperties": False,
    }
    registry = ToolRegistry([Inline("t", lambda a: asyncio.sleep(0, "ok"), schema)])
    assert (await registry.run(call("t", n=1, x=None), timeout=1)).ok
    assert (await registry.run(call("t", n=1, x=2.5), timeout=1)).ok
    assert "must be of type integer" in (await registry.run(call("t", n=1.5), timeout=1)).output
    assert "unexpected 'y'" in (await registry.run(call("t", y=1), timeout=1)).output


async def test_tool_failed_is_reported(registry: ToolRegistry) -> None:
    result = await registry.run(call("calculator", expression="1/0"), timeout=1)
    assert not result.ok
    assert "division by zero" in result.output


async def test_slow_tool_times_out() -> None:
    registry = ToolRegistry([Inline("slow", sleeper(5))])
    started = time.perf_counter()
    result = await registry.run(call("slow"), timeout=0.05)
    assert time.perf_counter() - started < 1
    assert not result.ok
    assert "did not finish within 0.05 s" in result.output


async def test_crashing_tool_is_an_internal_error() -> None:
    async def crash(arguments: dict[str, Any]) -> str:
        raise RuntimeError("secret internals")

    async def own_timeout(arguments: dict[str, Any]) -> str:
        raise TimeoutError

    registry = ToolRegistry([Inline("crash", crash), Inline("own_timeout", own_timeout)])
    for name in ("crash", "own_timeout"):
        result = await registry.run(call(name), timeout=1)
        assert not result.ok
        assert result.output == f"internal error in tool {name}"


async def test_failed_message_from_tool() -> None:
    async def refuse(arguments: dict[str, Any]) -> str:
        raise ToolFailed("the moon is not reachable")

    registry = ToolRegistry([Inline("moon", refuse)])
    result = await registry.run(call("moon"), timeout=1)
    assert result.output == "moon failed: the moon is not reachable"


async def test_output_is_truncated() -> None:
    async def chatty(arguments: dict[str, Any]) -> str:
        return "x" * 10_000

    registry = ToolRegistry([Inline("chatty", chatty)], max_output_chars=100)
    result = await registry.run(call("chatty"), timeout=1)
    assert result.ok
    assert len(result.output) <= 100
    assert "truncated: 10000 characters" in result.output


async def test_run_all_is_concurrent_and_ordered() -> None:
    registry = ToolRegistry([Inline("a", sleeper(0.2)), Inline("b", sleeper(0.2))])
    calls = [call("b"), call("a"), call("missing")]
    started = time.perf_counter()
    results = await registry.run_all(calls, timeout=1)
    assert time.perf_counter() - started < 0.35
    assert [result.call_id for result in results] == ["call_b", "call_a", "call_missing"]
    assert [result.ok for result in results] == [True, True, False]


async def test_current_time_uses_the_zone() -> None:
    frozen = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
    clock = CurrentTime(now=lambda: frozen)
    assert await clock.call({}) == "2026-11-22T01:30:00+00:00 (UTC)"
    assert await clock.call({"timezone": "Asia/Tokyo"}) == "2026-11-22T10:30:00+09:00 (Asia/Tokyo)"
    with pytest.raises(ToolFailed, match="unknown time zone"):
        await clock.call({"timezone": "Mars/Olympus_Mons"})
    with pytest.raises(ToolFailed, match="unknown time zone"):
        await clock.call({"timezone": "../../etc/passwd"})
