"""PromptManager: named, versioned templates rendered with Jinja2.

The name and version of every template used go into the answer's metadata, so an
answer can always be traced to the exact prompt that produced it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

_SYSTEM = """\
You are {{ assistant_name }}, a helpful assistant. Answer clearly and concisely.
{% if tools %}You can call these tools when they help: {{ tools | join(", ") }}.
Use the calculator for arithmetic instead of computing in your head.
{% endif %}The current date is {{ today }}.{% if summary %}

Summary of the conversation so far:
{{ summary }}{% endif %}"""

_SYSTEMS_KEPT = 64  # rendered system prompts kept; past it, all are dropped


@dataclass(slots=True, frozen=True)
class Prompt:
    name: str
    version: int
    text: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class PromptManager:
    def __init__(self) -> None:
        self._env = Environment(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
        )
        self._templates: dict[str, tuple[int, Template]] = {}
        # System prompts without a summary, by (tools, date): the same for most answers.
        self._systems: dict[tuple[tuple[str, ...], str], Prompt] = {}
        self.register("system", 1, _SYSTEM)

    def register(self, name: str, version: int, source: str) -> None:
        """Add a template; a higher version of a known name replaces the lower."""
        current = self._templates.get(name)
        if current is None or version >= current[0]:
            self._templates[name] = (version, self._env.from_string(source))
            self._systems.clear()

    def render(self, name: str, **context: Any) -> Prompt:
        version, template = self._templates[name]
        return Prompt(name, version, template.render(**context))

    def system(self, *, tools: list[str], summary: str = "") -> Prompt:
        """The system prompt for an answer. Rendered once per set of tools and day
        (a render cost about 1% of an answer's CPU); with a chat's summary, each time."""
        today = datetime.now(UTC).date().isoformat()
        key = (tuple(tools), today)
        if not summary and (known := self._systems.get(key)) is not None:
            return known
        prompt = self.render(
            "system", assistant_name="chatorch", tools=tools, today=today, summary=summary
        )
        if not summary:
            if len(self._systems) >= _SYSTEMS_KEPT:  # a new day, or tools that changed
                self._systems.clear()
            self._systems[key] = prompt
        return prompt
