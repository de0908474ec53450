"""ActionEngine: run the plan's tool calls, independent ones in parallel, each bounded."""

import time
from typing import Any

from chatorch.domain.llm import ToolCall
from chatorch.pipeline.cancel import Stop
from chatorch.pipeline.emitter import Emitter
from chatorch.services.metrics import MetricsCollector, labelled
from chatorch.services.tools import ToolRegistry, ToolResult


class ActionEngine:
    def __init__(self, tools: ToolRegistry, metrics: MetricsCollector, *, timeout: float) -> None:
        self._tools = tools
        self._metrics = metrics
        self._timeout = timeout

    async def run(
        self, calls: tuple[ToolCall, ...], emitter: Emitter, *, stop: Stop | None = None
    ) -> list[ToolResult]:
        """``stop``: a cancel abandons the calls (raising ``AnswerCancelled``)."""
        started = time.perf_counter()
        running = self._tools.run_all(calls, timeout=self._timeout)
        results = await (running if stop is None else stop.wait_for(running))
        for result in results:
            labelled(self._metrics.tool_calls, result.name, "ok" if result.ok else "error").inc()
        await emitter.step(
            "act",
            {
                "calls": [describe_result(result) for result in results],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return results


def describe_result(result: ToolResult) -> dict[str, Any]:
    return {
        "id": result.call_id,
        "name": result.name,
        "arguments": result.arguments,
        "ok": result.ok,
        "output": result.output,
        "duration_ms": round(result.duration_ms, 2),
    }
