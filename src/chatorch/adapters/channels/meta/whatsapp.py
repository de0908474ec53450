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

from chatorch.adapters.channels.meta.graph import MetaChannel, dicts, text_of
from chatorch.domain.channels import ChannelError, Inbound
from chatorch.domain.errors import NotConfigured

log = structlog.get_logger(__name__)

MAX_CHARS = 4096  # Cloud API: text.body of one message


class WhatsAppChannel(MetaChannel):
    max_chars = MAX_CHARS
    platform = "WhatsApp"
    kind = "whatsapp_business_account"

    def __init__(
        self,
        *,
        access_token: str,
        app_secret: str,
        verify_token: str,
        phone_number_id: str,
        api_url: str,
    ) -> None:
        super().__init__(
            token=access_token, app_secret=app_secret, verify_token=verify_token, api_url=api_url
        )
        self._number = phone_number_id

    def _messages(self, entries: list[dict[str, Any]]) -> list[Inbound]:
        messages: list[Inbound] = []
        for entry in entries:
            for change in dicts(entry.get("changes")):
                value = change.get("value")
                if change.get("field") == "messages" and isinstance(value, dict):
                    messages.extend(self._texts(value))
        return messages

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
                    reply={"to": sender, "message_id": wamid},
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

    async def typing(self, reply: Mapping[str, Any]) -> None:
        """Mark the question read with a typing indicator (dismissed by the answer)."""
        if "message_id" in reply:  # a question taken before replies named it
            indicator = {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": reply["message_id"],
                "typing_indicator": {"type": "text"},
            }
            await self._graph.post(f"{self._number}/messages", indicator)

    async def register(self, url: str) -> None:
        raise NotConfigured(
            "WhatsApp takes its webhook in the Meta App Dashboard only: WhatsApp →"
            f" Configuration → Webhook, callback URL {url} with the bot's verify token,"
            " then subscribe to the `messages` field (docs/channels.md)"
        )
