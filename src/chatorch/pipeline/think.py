"""ThinkEngine: decide whether to answer now or to call tools first.

The tools are offered in the same streamed call that may answer, so deciding costs
no extra model round trip: the first text chunk means "answer", and the stream is
handed on to the ResponseEngine with that chunk already in hand.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, Usage
from chatorch.pipeline.cancel import Stop
from chatorch.pipeline.emitter import Emitter
from chatorch.services.llm import Generation, LLMManager


@dataclass(slots=True)
class Decision:
    generation: Generation
    tool_calls: tuple[ToolCall, ...] = ()
    first: Chunk | None = None  # the text chunk that decided "answer", not yet sent
    usage: Usage = field(default_factory=Usage)

    @property
    def answers(self) -> bool:
        return not self.tool_calls

    @property
    def rest(self) -> AsyncIterator[Chunk]:
        return self.generation.chunks


class ThinkEngine:
    def __init__(self, llm: LLMManager) -> None:
        self._llm = llm

    async def decide(
        self,
        request: LLMRequest,
        emitter: Emitter,
        *,
        llm: LLMManager | None = None,
        stop: Stop | None = None,
    ) -> Decision:
        """``llm``: a chain of the question's own (a bot's), instead of the server's;
        ``stop``: a cancel closes the model's stream, here or while the answer streams."""
        started = time.perf_counter()
        generation = (llm or self._llm).generate(request)
        if stop is not None:
            generation.chunks = stop.chunks(generation.chunks)
        decision = await self._read_until_decided(generation)
        detail = {
            "decision": "answer" if decision.answers else "tools",
            "tools": [call.name for call in decision.tool_calls],
            "provider": decision.generation.provider,
            "model": decision.generation.model,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        await emitter.step("think", detail)
        return decision

    @staticmethod
    async def _read_until_decided(generation: Generation) -> Decision:
        decision = Decision(generation)
        async for chunk in generation.chunks:
            if chunk.restart:  # nothing was shown yet: just forget the failed provider's part
                decision.tool_calls = ()
                continue
            if chunk.usage is not None:
                decision.usage += chunk.usage
            if chunk.tool_calls:
                decision.tool_calls += chunk.tool_calls
            if chunk.text and not decision.tool_calls:
                decision.first = chunk
                return decision
        return decision
