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
        self.register("system", 1, _SYSTEM)

    def register(self, name: str, version: int, source: str) -> None:
        """Add a template; a higher version of a known name replaces the lower."""
        current = self._templates.get(name)
        if current is None or version >= current[0]:
            self._templates[name] = (version, self._env.from_string(source))

    def render(self, name: str, **context: Any) -> Prompt:
        version, template = self._templates[name]
        return Prompt(name, version, template.render(**context))

    def system(self, *, tools: list[str], summary: str = "") -> Prompt:
        return self.render(
            "system",
            assistant_name="chatorch",
            tools=tools,
            today=datetime.now(UTC).date().isoformat(),
            summary=summary,
        )
