"""Channel: one bot on one messaging platform — webhooks in, messages out."""

from collections.abc import Mapping
from typing import Any, Protocol

from chatorch.domain.channels import Reception


class Channel(Protocol):
    @property
    def max_chars(self) -> int:
        """The longest text one message may hold on the platform."""
        ...

    @property
    def edits(self) -> bool:
        """Whether a sent message can grow by edits (else the answer is sent when done)."""
        ...

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        """Check that the platform sent this request, on the raw bytes, before anything
        reads them.

        Raises:
            Unauthenticated: a forged, stale or unsigned request.
        """
        ...

    async def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        """What to answer the (verified) request with, and the messages it brought.

        Raises:
            InvalidInput: a body that is not what the platform sends.
        """
        ...

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        """Post ``text`` where ``reply`` says; the platform's id of the new message.

        Raises:
            ChannelError: the platform refused (``retry_after`` set when it said to wait).
        """
        ...

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        """Replace the text of a message this channel sent.

        Raises:
            ChannelError: as for ``send``.
        """
        ...

    async def typing(self, reply: Mapping[str, Any]) -> None:
        """Show the person an answer is being written, where the platform can (for a
        few seconds: WhatsApp and Messenger 20–25, Telegram 5); elsewhere nothing.

        Raises:
            ChannelError: as for ``send``.
        """
        ...

    async def register(self, url: str) -> None:
        """Tell the platform to deliver this bot's messages to ``url``.

        Raises:
            NotConfigured: the platform takes its webhook address in its own console
                only; the detail says where.
            ChannelError: the platform refused.
        """
        ...

    async def close(self) -> None: ...
