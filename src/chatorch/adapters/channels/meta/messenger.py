"""``MessengerChannel``: a Facebook Page's Messenger, through Meta's webhooks and the
Send API.

Text messages to the Page are answered, each keyed by its ``mid``; one person's
page-scoped id (PSID) is one conversation. The Page's own messages (``is_echo``),
deliveries, reads, postbacks and messages without text (attachments, stickers) are
acknowledged and ignored — no "I can only read text" reply. Messenger cannot edit a sent
message, so the answer is sent whole when it is done (no typing indicator).
"""

from collections.abc import Mapping
from typing import Any

from chatorch.adapters.channels.meta.graph import MetaChannel, dicts, text_of
from chatorch.domain.channels import ChannelError, Inbound
from chatorch.domain.errors import NotConfigured

MAX_CHARS = 2000  # Send API: message.text


class MessengerChannel(MetaChannel):
    max_chars = MAX_CHARS
    platform = "Messenger"
    kind = "page"

    def __init__(
        self, *, page_access_token: str, app_secret: str, verify_token: str, api_url: str
    ) -> None:
        super().__init__(
            token=page_access_token,
            app_secret=app_secret,
            verify_token=verify_token,
            api_url=api_url,
        )

    def _messages(self, entries: list[dict[str, Any]]) -> list[Inbound]:
        found = (
            _inbound(messaging) for entry in entries for messaging in dicts(entry.get("messaging"))
        )
        return [inbound for inbound in found if inbound is not None]

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        sent = await self._graph.post(
            "me/messages",
            {
                "recipient": {"id": reply["recipient"]},
                "messaging_type": "RESPONSE",
                "message": {"text": text},
            },
        )
        mid = text_of(sent.get("message_id"))
        if mid is None:
            raise ChannelError("Messenger me/messages: the answer names no message id")
        return mid

    async def typing(self, reply: Mapping[str, Any]) -> None:
        action = {"recipient": {"id": reply["recipient"]}, "sender_action": "typing_on"}
        await self._graph.post("me/messages", action)

    async def register(self, url: str) -> None:
        raise NotConfigured(
            "Messenger takes its webhook in the Meta App Dashboard only: Messenger → Settings"
            f" (or Webhooks → Page), callback URL {url} with the bot's verify token, then"
            " subscribe the Page to the `messages` field (docs/channels.md)"
        )


def _inbound(messaging: dict[str, Any]) -> Inbound | None:
    """A person's text message, or None (echoes, deliveries, reads, attachments…)."""
    message, sender = messaging.get("message"), messaging.get("sender")
    if not isinstance(message, dict) or not isinstance(sender, dict) or message.get("is_echo"):
        return None
    psid, mid, text = text_of(sender.get("id")), text_of(message.get("mid")), message.get("text")
    if psid is None or mid is None or text_of(text) is None:
        return None
    return Inbound(
        event_id=mid, conversation=psid, sender=psid, text=str(text), reply={"recipient": psid}
    )
