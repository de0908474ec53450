"""Telegram: webhooks with a secret token, answers grown by editing the sent message."""

from chatorch.adapters.channels.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
