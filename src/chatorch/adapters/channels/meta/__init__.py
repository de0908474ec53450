"""WhatsApp Cloud API and Messenger: Meta's webhooks (a verify-token handshake, bodies
signed with the app secret) and the Graph API's send calls. Neither platform can edit a
sent message: the answer is sent when it is done."""

from chatorch.adapters.channels.meta.messenger import MessengerChannel
from chatorch.adapters.channels.meta.whatsapp import WhatsAppChannel

__all__ = ["MessengerChannel", "WhatsAppChannel"]
