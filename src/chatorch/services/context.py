"""ContextManager: what one answer's prompt holds, within a budget.

The prompt is the system prompt, the chat's summary when earlier turns are left out,
the most recent turns that fit, the passages retrieved from the chat's files, and the
question. Passages and the question come first in the budget: they are what this
answer is about; the turns fill what is left, newest first, and the summary stands in
for the ones that did not fit. Stored messages hold no tool turns (a tool call and its
result live in one answer's metadata), so no call is ever parted from its result.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatorch.domain.entities import ChatSummary, FileMeta, FileStatus, Message
from chatorch.domain.llm import Source, Turn
from chatorch.services.prompts import Prompt
from chatorch.services.retrieval import Passage, Retriever

PASSAGES_HEADER = (
    "Passages from the user's files that may help answer. Say which you use by their"
    " number, like [1]; if they do not answer the question, say so."
)


@dataclass(slots=True)
class Context:
    """The prompt of one answer, and what went into it (for the answer's metadata)."""

    prompt: Prompt  # the system prompt as rendered: its ref is recorded
    turns: list[Turn]
    passages: list[Passage] = field(default_factory=list)
    summary: bool = False  # the chat's summary stands in for turns left out
    kept: int = 0  # earlier messages kept

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(Source(_label(p), p.chunk.text) for p in self.passages)

    def makeup(self) -> dict[str, Any]:
        """``metadata.context``: how many earlier turns, whether the summary, how many
        passages."""
        return {"turns": self.kept, "summary": self.summary, "passages": len(self.passages)}

    def citations(self) -> list[dict[str, Any]]:
        return [passage.citation() for passage in self.passages]


class ContextManager:
    def __init__(self, *, max_chars: int, retriever: Retriever | None = None) -> None:
        self._max_chars = max_chars  # rough budget: ~4 characters a token
        self._retriever = retriever

    async def build(
        self,
        system: Callable[[str], Prompt],
        history: Sequence[Turn],
        question: Message,
        *,
        files: Sequence[FileMeta] = (),
        summary: Callable[[], Awaitable[ChatSummary | None]] | None = None,
        complete: bool = True,
    ) -> Context:
        """The prompt for ``question``.

        Args:
            system: renders the system prompt, given the summary to show ("" for none).
            history: what the prompt may hold of the latest earlier turns, oldest first.
            files: the files attached to the chat; their ready ones are searched.
            summary: reads the chat's summary, if it has one (only when turns are left out).
            complete: ``history`` reaches back to the chat's first message.
        """
        passages = await self._retrieve(question, files)
        evidence = _passages_text(passages)
        fixed = len(evidence) + len(question.content)
        prompt = system("")
        kept = _fitting(history, self._max_chars - fixed - len(prompt.text))
        found = None
        if summary is not None and (len(kept) < len(history) or not complete):
            found = await summary()
        if found is not None:
            prompt = system(found.text)
            kept = _fitting(history, self._max_chars - fixed - len(prompt.text))
        turns = [Turn(role="system", content=prompt.text + evidence), *kept]
        turns.append(Turn(role="user", content=question.content))
        return Context(prompt, turns, passages, summary=found is not None, kept=len(kept))

    async def _retrieve(self, question: Message, files: Sequence[FileMeta]) -> list[Passage]:
        ready = [file for file in files if file.status is FileStatus.READY]
        if self._retriever is None or not ready:
            return []
        return await self._retriever.retrieve(
            ready[0].owner_id, question.content, file_ids=[file.id for file in ready]
        )


def _fitting(history: Sequence[Turn], budget: int) -> list[Turn]:
    """The latest turns whose text fits ``budget``, oldest first."""
    kept: list[Turn] = []
    for turn in reversed(history):
        budget -= len(turn.content)
        if budget < 0:
            break
        kept.append(turn)
    kept.reverse()
    return kept


def _label(passage: Passage) -> str:
    chunk = passage.chunk
    where = f"page {chunk.page}" if chunk.page else f"part {chunk.number + 1}"
    return f"{passage.file_name}, {where}"


def _passages_text(passages: Sequence[Passage]) -> str:
    if not passages:
        return ""
    lines = [f"\n\n{PASSAGES_HEADER}"]
    for number, passage in enumerate(passages, start=1):
        heading = f" ({passage.chunk.heading})" if passage.chunk.heading else ""
        lines.append(f"\n[{number}] {_label(passage)}{heading}:\n{passage.chunk.text}")
    return "\n".join(lines)
