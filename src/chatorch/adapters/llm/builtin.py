"""An honest offline ``LLMProvider``: no network, no model, no pretending.

It lets chatorch run end to end with zero configuration: it asks the calculator and
clock tools when a question clearly needs them, reports their results, quotes the best
passage of the user's files when the prompt offers some (so retrieval is useful and
testable offline), and otherwise says plainly that no language model is configured
and how to configure one.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence

from chatorch.domain.arithmetic import extract_expression
from chatorch.domain.llm import Chunk, LLMRequest, Source, ToolCall, Turn, Usage
from chatorch.ports.llm import PROBE_TIMEOUT, Probe

NO_MODEL_ANSWER = (
    "No language model is configured, so I can only do arithmetic and tell the time. "
    "To get real answers, set CHATORCH_LLM=openai:<model> with CHATORCH_OPENAI_API_KEY "
    "(or CHATORCH_OPENAI_BASE_URL for a local Ollama, vLLM or llama.cpp server) "
    "and restart chatorch."
)

_TIME_QUESTION = re.compile(
    r"\b(what time|what's the time|what is the time|current time|time is it|time now"
    r"|what's the date|what is the date|today's date|todays date|current date"
    r"|date today|what day is (it|today))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[-+]?\d+)?$", re.IGNORECASE)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_PIECE = re.compile(r"\S+\s*|\s+")
_WORD = re.compile(r"\w+")
SUMMARY_CHARS = 2_000  # an offline summary keeps its latest part
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class BuiltinProvider:
    """Rule-based stand-in for a model; ``delay`` (s per word) slows it for demos."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self._delay = delay

    @property
    def name(self) -> str:
        return "builtin"

    @property
    def model(self) -> str:
        return "offline"

    async def stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        prompt_tokens = sum(len(turn.content.split()) for turn in request.turns)
        reply = _reply(request)
        if isinstance(reply, ToolCall):
            yield Chunk(tool_calls=(reply,))
            yield Chunk(usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=1))
            return
        pieces = _PIECE.findall(reply)
        for piece in pieces:
            yield Chunk(text=piece)
            await asyncio.sleep(self._delay)
        yield Chunk(usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(pieces)))

    async def probe(self, *, timeout: float = PROBE_TIMEOUT) -> Probe:
        """Always there: it runs in this process, with no network and no model."""
        return Probe(ok=True, detail="builtin: offline responder, always available", latency_ms=0.0)

    async def close(self) -> None:
        return None


def _reply(request: LLMRequest) -> str | ToolCall:
    """What to say (text) or which tool to ask for, looking only at the latest question."""
    turns = request.turns
    if request.task == "summary":
        return _summary(turns[-1].content if turns else "", request.sources)
    last_user = max((i for i, turn in enumerate(turns) if turn.role == "user"), default=-1)
    since = turns[last_user + 1 :]
    if any(turn.role == "tool" for turn in since):
        return _report(since)
    question = turns[last_user].content if last_user >= 0 else ""
    offered = {spec.name for spec in request.tools}
    expression = extract_expression(question) if "calculator" in offered else None
    if expression is not None:
        return _call("calculator", {"expression": expression})
    if "current_time" in offered and _TIME_QUESTION.search(question.replace("’", "'")):
        return _call("current_time", {})
    if request.sources:
        return _quote(question, request.sources[0])
    return NO_MODEL_ANSWER


def _quote(question: str, source: Source) -> str:
    """The sentence of the best passage sharing most words with the question, quoted
    with where it is from: retrieval found the passage; this finds the line in it."""
    asked = set(_WORD.findall(question.lower()))
    sentences = [s.strip() for s in _SENTENCE.split(source.text) if s.strip()] or [source.text]
    best = max(sentences, key=lambda s: len(asked & set(_WORD.findall(s.lower()))))
    return f'From {source.label}: "{best}" [1]'


def _summary(transcript: str, sources: Sequence[Source]) -> str:
    """What an offline summary can be: the summary so far, then each question asked
    since, with the first sentence of its answer (the latest kept when it grows long)."""
    lines: list[str] = []
    for line in transcript.splitlines():
        role, _, text = line.partition(": ")
        first = _SENTENCE.split(text.strip(), maxsplit=1)[0][:300]
        if role == "user" and first:
            lines.append(f"asked {first!r}")
        elif role == "assistant" and first and lines:
            lines[-1] += f" (answer: {first})"
    told = "The user " + "; ".join(lines) + "." if lines else ""
    text = " ".join(part for part in (sources[0].text if sources else "", told) if part)
    return text[-SUMMARY_CHARS:]


def _call(name: str, arguments: dict[str, str]) -> ToolCall:
    return ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)


def _report(turns: Sequence[Turn]) -> str:
    """One plain sentence per tool result, matched to the call that produced it."""
    calls = {call.id: call for turn in turns for call in turn.tool_calls}
    sentences = [
        _sentence(calls.get(turn.tool_call_id or ""), turn.content.strip())
        for turn in turns
        if turn.role == "tool"
    ]
    return " ".join(sentences)


def _sentence(call: ToolCall | None, result: str) -> str:
    name = call.name if call is not None else ""
    result = result.removeprefix(f"{name} failed: ")  # the registry's wording for ToolFailed
    if name == "calculator":
        expression = str(call.arguments.get("expression", "")) if call else ""
        if _NUMBER.match(result):
            return f"{expression} = {result}."
        return _sentence_end(f"I could not compute {expression}: {result}")
    if name == "current_time":
        if _TIMESTAMP.match(result):
            return f"It is now {result}."
        return _sentence_end(f"I could not tell the time: {result}")
    return _sentence_end(f"The {name or 'tool'} returned: {result}")


def _sentence_end(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."
