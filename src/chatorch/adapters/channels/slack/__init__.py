"""Slack: Events API webhooks signed with the app's signing secret, answers grown in the
thread by ``chat.update``."""

from chatorch.adapters.channels.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
