"""What a messaging platform brings in and how an answer finds its way back."""

from dataclasses import dataclass, field
from typing import Any

from chatorch.domain.errors import ChatorchError


@dataclass(frozen=True, slots=True)
class Inbound:
    """A person's message to a bot, as its platform delivered it."""

    event_id: str  # the platform's id of this event: a redelivery carries the same
    conversation: str  # the platform's conversation: one chatorch chat per bot
    sender: str  # the platform's user: one chatorch user per bot
    text: str
    reply: dict[str, Any]  # where the answer goes: the chat, the thread, the token…


@dataclass(frozen=True, slots=True)
class Reception:
    """The webhook's answer to the platform, and the messages it brought to answer."""

    status: int = 200
    body: bytes = b""
    media_type: str = "application/json"
    messages: tuple[Inbound, ...] = field(default=())


class ChannelError(ChatorchError):
    """A platform refused or failed a call; ``retry_after`` (s) when it asked to wait."""

    code = "channel_error"
    status = 502
    title = "Platform call failed"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
