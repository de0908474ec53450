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

from chatorch.adapters.channels.meta.graph import GraphApi, MetaWebhook, dicts, payload, text_of
from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import NotConfigured

MAX_CHARS = 2000  # Send API: message.text


class MessengerChannel:
    max_chars = MAX_CHARS
    edits = False

    def __init__(
        self, *, page_access_token: str, app_secret: str, verify_token: str, api_url: str
    ) -> None:
        self._webhook = MetaWebhook(app_secret=app_secret, verify_token=verify_token)
        self._graph = GraphApi(api_url=api_url, token=page_access_token, platform="Messenger")

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        self._webhook.verify(method=method, headers=headers, query=query, body=body)

    def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        if method == "GET":
            return self._webhook.handshake(query)
        event = payload(body, platform="messenger", kind="page")
        if event is None:
            return Reception()
        messages: list[Inbound] = []
        for entry in dicts(event.get("entry")):
            for messaging in dicts(entry.get("messaging")):
                inbound = _inbound(messaging)
                if inbound is not None:
                    messages.append(inbound)
        return Reception(messages=tuple(messages))

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

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        raise ChannelError("Messenger cannot edit a sent message")

    async def register(self, url: str) -> None:
        raise NotConfigured(
            "Messenger takes its webhook in the Meta App Dashboard only: Messenger → Settings"
            f" (or Webhooks → Page), callback URL {url} with the bot's verify token, then"
            " subscribe the Page to the `messages` field (docs/channels.md)"
        )

    async def close(self) -> None:
        await self._graph.close()


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
