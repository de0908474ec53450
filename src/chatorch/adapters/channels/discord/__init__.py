"""Discord: slash-command interactions signed with Ed25519, answers grown by editing the
deferred response. Only ``chatorch.wiring`` (and the contract tests) import it."""

from chatorch.adapters.channels.discord.channel import DiscordChannel

__all__ = ["DiscordChannel"]
