"""ResponseEngine: stream the chosen answer to the client, token by token."""

import time
from dataclasses import dataclass, field

from chatorch.domain.llm import ToolCall, Usage
from chatorch.pipeline.emitter import Emitter
from chatorch.pipeline.think import Decision


@dataclass(slots=True)
class Reply:
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    tool_calls: tuple[ToolCall, ...] = ()  # a model may ask for tools after some text
    duration_ms: float = 0.0


class ResponseEngine:
    async def stream(self, decision: Decision, emitter: Emitter) -> Reply:
        """Send the decision's text and the rest of its stream; text only, never stored here."""
        started = time.perf_counter()
        reply = Reply(usage=decision.usage)
        parts: list[str] = []
        if decision.first is not None:
            parts.append(decision.first.text)
            await emitter.token(decision.first.text)
        async for chunk in decision.rest:
            if chunk.restart:  # the provider failed mid-answer; the next one starts over
                parts.clear()
                reply.tool_calls = ()
                await emitter.reset(reason="fallback")
                continue
            if chunk.text:
                parts.append(chunk.text)
                await emitter.token(chunk.text)
            if chunk.tool_calls:
                reply.tool_calls += chunk.tool_calls
            if chunk.usage is not None:
                reply.usage += chunk.usage
        await emitter.flush()
        reply.text = "".join(parts)
        reply.duration_ms = (time.perf_counter() - started) * 1000
        await emitter.step(
            "respond",
            {
                "provider": decision.generation.provider,
                "model": decision.generation.model,
                "chars": len(reply.text),
                "duration_ms": round(reply.duration_ms, 2),
            },
        )
        return reply
