"""Tool: something the model may call, described by a JSON schema."""

from typing import Any, Protocol

from chatorch.domain.llm import ToolSpec


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def call(self, arguments: dict[str, Any]) -> str:
        """Run the tool and return its result as text for the model.

        Raises:
            ToolFailed: the tool could not produce a result; the message is shown to
                the model, so it says what went wrong in plain words.
        """
        ...
