"""``WhatsAppChannel``: the WhatsApp Cloud API, through Meta's webhooks and Graph API.

Text messages to the bot's number are answered, each keyed by its ``wamid``; one
person's number is one conversation. Delivery receipts (``statuses``), other message
types (images, stickers, reactions…) and messages to another number of the same app are
acknowledged and ignored — no "I can only read text" reply. WhatsApp cannot edit a sent
message, so the answer is sent whole when it is done (no typing indicator). Plain httpx,
not pywa: why in ``graph.py``.
"""

from collections.abc import Mapping
from typing import Any

import structlog

from chatorch.adapters.channels.meta.graph import GraphApi, MetaWebhook, dicts, payload, text_of
from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import NotConfigured

log = structlog.get_logger(__name__)

MAX_CHARS = 4096  # Cloud API: text.body of one message


class WhatsAppChannel:
    max_chars = MAX_CHARS
    edits = False

    def __init__(
        self,
        *,
        access_token: str,
        app_secret: str,
        verify_token: str,
        phone_number_id: str,
        api_url: str,
    ) -> None:
        self._webhook = MetaWebhook(app_secret=app_secret, verify_token=verify_token)
        self._graph = GraphApi(api_url=api_url, token=access_token, platform="WhatsApp")
        self._number = phone_number_id

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        self._webhook.verify(method=method, headers=headers, query=query, body=body)

    def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        if method == "GET":
            return self._webhook.handshake(query)
        event = payload(body, platform="whatsapp", kind="whatsapp_business_account")
        if event is None:
            return Reception()
        messages: list[Inbound] = []
        for entry in dicts(event.get("entry")):
            for change in dicts(entry.get("changes")):
                value = change.get("value")
                if change.get("field") == "messages" and isinstance(value, dict):
                    messages.extend(self._texts(value))
        return Reception(messages=tuple(messages))

    def _texts(self, value: dict[str, Any]) -> list[Inbound]:
        """The text messages of one change (``statuses`` and other types are skipped)."""
        metadata = value.get("metadata")
        number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if number is not None and str(number) != self._number:
            # Another number of the same Meta app: answering from ours would be wrong.
            log.warning("whatsapp.other_number", phone_number_id=str(number)[:40])
            return []
        found: list[Inbound] = []
        for message in dicts(value.get("messages")):
            text = message.get("text")
            body = text_of(text.get("body")) if isinstance(text, dict) else None
            sender, wamid = text_of(message.get("from")), text_of(message.get("id"))
            if message.get("type") != "text" or body is None or sender is None or wamid is None:
                continue
            found.append(
                Inbound(
                    event_id=wamid,
                    conversation=sender,
                    sender=sender,
                    text=body,
                    reply={"to": sender},
                )
            )
        return found

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        sent = await self._graph.post(
            f"{self._number}/messages",
            {
                "messaging_product": "whatsapp",
                "to": reply["to"],
                "type": "text",
                "text": {"body": text},
            },
        )
        ids = dicts(sent.get("messages"))
        wamid = text_of(ids[0].get("id")) if ids else None
        if wamid is None:
            raise ChannelError("WhatsApp messages: the answer names no message id")
        return wamid

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        raise ChannelError("WhatsApp cannot edit a sent message")

    async def register(self, url: str) -> None:
        raise NotConfigured(
            "WhatsApp takes its webhook in the Meta App Dashboard only: WhatsApp →"
            f" Configuration → Webhook, callback URL {url} with the bot's verify token,"
            " then subscribe to the `messages` field (docs/channels.md)"
        )

    async def close(self) -> None:
        await self._graph.close()
