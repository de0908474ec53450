"""Bots' channels: which adapter speaks each platform, reached at the settings' URLs."""

from collections.abc import Mapping

from chatorch.adapters.channels.telegram import TelegramChannel
from chatorch.domain.entities import Bot, Platform
from chatorch.domain.errors import NotConfigured
from chatorch.ports.channels import Channel
from chatorch.services.channels import Make
from chatorch.settings import Settings


def channel_maker(settings: Settings) -> Make:
    """Make a bot's channel from its (decrypted) credentials."""

    def make(bot: Bot, credentials: Mapping[str, str]) -> Channel:
        if bot.platform is Platform.TELEGRAM:
            return TelegramChannel(
                token=credentials["token"],
                secret_token=credentials["secret_token"],
                api_url=settings.telegram_api_url,
            )
        raise NotConfigured(
            f"{bot.platform.value} bots are stored, but this version answers Telegram only;"
            " see docs/channels.md"
        )

    return make
