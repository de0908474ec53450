"""ContextManager: which earlier turns go into a prompt, within a budget."""

from collections.abc import Sequence

from chatorch.domain.entities import Message, Role, Status
from chatorch.domain.llm import Turn


class ContextManager:
    def __init__(self, *, max_chars: int) -> None:
        self._max_chars = max_chars  # rough budget: ~4 characters a token

    def build(self, system: str, history: Sequence[Message], question: Message) -> list[Turn]:
        """System prompt, then as many of the latest earlier turns as fit, then the question.

        A failed answer is left out: its partial text would mislead the model.
        """
        budget = self._max_chars - len(system) - len(question.content)
        kept: list[Turn] = []
        for message in reversed(history):
            if message.role is Role.ASSISTANT and message.status is not Status.COMPLETE:
                continue
            budget -= len(message.content)
            if budget < 0:
                break
            if message.role is Role.USER:
                kept.append(Turn(role="user", content=message.content))
            else:
                kept.append(Turn(role="assistant", content=message.content))
        kept.reverse()
        return [
            Turn(role="system", content=system),
            *kept,
            Turn(role="user", content=question.content),
        ]
