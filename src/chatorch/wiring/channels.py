"""Bots' channels: which adapter speaks each platform, reached at the settings' URLs."""

from collections.abc import Mapping

from chatorch.adapters.channels.discord import DiscordChannel
from chatorch.adapters.channels.meta import MessengerChannel, WhatsAppChannel
from chatorch.adapters.channels.slack import SlackChannel
from chatorch.adapters.channels.telegram import TelegramChannel
from chatorch.domain.entities import Bot, Platform
from chatorch.ports.channels import Channel
from chatorch.services.channels import Make
from chatorch.settings import Settings


def channel_maker(settings: Settings) -> Make:
    """Make a bot's channel from its (decrypted) credentials."""

    def make(bot: Bot, credentials: Mapping[str, str]) -> Channel:
        match bot.platform:
            case Platform.TELEGRAM:
                return TelegramChannel(
                    token=credentials["token"],
                    secret_token=credentials["secret_token"],
                    api_url=settings.telegram_api_url,
                )
            case Platform.SLACK:
                return SlackChannel(
                    bot_token=credentials["bot_token"],
                    signing_secret=credentials["signing_secret"],
                    api_url=settings.slack_api_url,
                )
            case Platform.DISCORD:
                return DiscordChannel(
                    application_id=credentials["application_id"],
                    public_key=credentials["public_key"],
                    bot_token=credentials["bot_token"],
                    api_url=settings.discord_api_url,
                )
            case Platform.WHATSAPP:
                return WhatsAppChannel(
                    access_token=credentials["access_token"],
                    app_secret=credentials["app_secret"],
                    verify_token=credentials["verify_token"],
                    phone_number_id=credentials["phone_number_id"],
                    api_url=settings.meta_graph_url,
                )
            case Platform.MESSENGER:
                return MessengerChannel(
                    page_access_token=credentials["page_access_token"],
                    app_secret=credentials["app_secret"],
                    verify_token=credentials["verify_token"],
                    api_url=settings.meta_graph_url,
                )

    return make
