"""The provider-neutral shape of a model conversation: turns, tools, streamed chunks."""

from dataclasses import dataclass, field
from typing import Any, Literal

TurnRole = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True, frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True, frozen=True)
class Turn:
    """One entry of the prompt: a tool turn answers the call ``tool_call_id``."""

    role: TurnRole
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(slots=True, frozen=True)
class ToolSpec:
    """What the model is told about a tool: its name, purpose and JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True, frozen=True)
class Source:
    """A passage of the user's files the prompt offers as evidence, numbered from 1 as
    the prompt numbers it. Every model reads it in the prompt's text; the builtin model,
    which reads no prose, quotes it from here."""

    label: str  # where it is, as a person would cite it: "manual.pdf, page 3"
    text: str


@dataclass(slots=True, frozen=True)
class LLMRequest:
    turns: tuple[Turn, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    sources: tuple[Source, ...] = ()  # best first; already in the turns' text
    # "summary": the last turn is a transcript to sum up (sources: the summary so far)
    task: Literal["answer", "summary"] = "answer"


@dataclass(slots=True, frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(slots=True, frozen=True)
class Chunk:
    """A piece of a streamed completion.

    Text arrives as it is generated. Tool calls arrive whole, once the provider has
    assembled their streamed argument fragments; usage arrives once, at the end.
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    restart: bool = False  # the provider failed mid-answer: drop what came; another follows
    extra: dict[str, Any] = field(default_factory=dict)


PROVIDERS = ("builtin", "openai", "anthropic")
# What ``check_chain`` accepts, as a pattern for schemas (it says what is wrong in words).
_ENTRY = r"\s*(?:builtin(?::[^,\x00]*)?|(?:openai|anthropic):[^,\x00]*[^\s,\x00][^,\x00]*)\s*"
CHAIN_PATTERN = rf"^{_ENTRY}(?:,{_ENTRY})*$"
_EXAMPLE_MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


def check_chain(chain: str, *, name: str = "CHATORCH_LLM") -> str:
    """Refuse a fallback chain (``openai:gpt-4o-mini,builtin``) naming an unknown
    provider or a provider without its model; return it unchanged.

    ``name`` is what the message calls the chain: the setting, or a bot's ``llm``.

    Raises:
        ValueError: the first wrong entry, in words.
    """
    for entry in chain.split(","):
        kind, _, model = entry.strip().partition(":")
        if kind not in PROVIDERS:
            raise ValueError(f"{name} names unknown provider {kind!r}")
        if kind != "builtin" and not model:
            raise ValueError(f"{name}: {kind!r} needs a model, e.g. {kind}:{_EXAMPLE_MODEL[kind]}")
    return chain
