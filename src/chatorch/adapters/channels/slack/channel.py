"""``SlackChannel``: the Events API in, the Web API out, through slack-sdk.

Slack signs every request: ``X-Slack-Signature`` is ``v0=`` and the HMAC-SHA256, keyed
with the app's signing secret, of ``v0:{X-Slack-Request-Timestamp}:{body}``; a timestamp
more than five minutes away is refused as a replay (slack-sdk's ``SignatureVerifier``).
Direct messages (``message`` in an ``im``) and mentions (``app_mention``, answered in
their thread) are answered; anything a bot posted (``bot_id``) and every ``subtype``
(edits, joins, the bot's own replies — answering those loops forever) is acknowledged
and ignored. Answers are posted by ``chat.postMessage`` and grown by ``chat.update``, their
Markdown shown as Slack's mrkdwn (``markup.py``), with ``& < >`` escaped as Slack asks, so
an answer never pings ``<!channel>`` or anyone. A rendering longer than Slack keeps, or
one Slack refuses, goes again as plain text (``mrkdwn: false``).
"""

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from chatorch.adapters.channels.slack.markup import escape, to_mrkdwn
from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import NotConfigured, Unauthenticated

log = structlog.get_logger(__name__)

# slack-sdk logs each call's parameters (people's messages) and each answer at debug on
# the logger it is given: this one passes its warnings only, whatever the level.
_SDK_LOG = logging.getLogger("slack_sdk.chatorch")
_SDK_LOG.setLevel(logging.WARNING)

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
MAX_CHARS = 40_000  # chat.postMessage: the text Slack keeps of one message
CALL_TIMEOUT = 10  # s for one Web API call
RATE_LIMIT_WAIT = 1.0  # s to wait after a 429 that named no Retry-After
_MENTION = re.compile(r"\s*<@([A-Z0-9]+)(?:\|[^>]*)?>\s*")
# chat.postMessage's refusals of a message's content, after which the plain text is sent:
# Slack lays mrkdwn out as blocks itself, and plain text may pass where they did not. Not
# msg_too_long: the rendering's length is checked before it goes, so that refusal is of
# the part itself, and its plain text would be refused as well.
MARKUP_REFUSED = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "no_text"}
)


class SlackChannel:
    max_chars = MAX_CHARS
    edits = True

    def __init__(self, *, bot_token: str, signing_secret: str, api_url: str) -> None:
        self._token = bot_token
        self._verifier = SignatureVerifier(signing_secret)
        self._api_url = api_url.rstrip("/") + "/"
        self._session: aiohttp.ClientSession | None = None  # made in the loop that calls
        self._client: AsyncWebClient | None = None

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        given = {key.lower(): value for key, value in headers.items()}
        try:
            valid = method == "POST" and self._verifier.is_valid(
                body, given.get(TIMESTAMP_HEADER), given.get(SIGNATURE_HEADER)
            )
        except ValueError:  # a timestamp that is no number, a body that is not UTF-8
            valid = False
        if not valid:
            raise Unauthenticated(
                "the Slack signature is missing or wrong, or its timestamp is more than"
                " 5 minutes away"
            )

    async def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            # Acknowledged all the same: Slack would retry it, and no retry reads better.
            log.warning("slack.payload_unreadable", error=str(error)[:200])
            return Reception()
        if not isinstance(payload, dict):
            return Reception()
        if payload.get("type") == "url_verification":  # Slack checks a new Request URL
            return Reception(body=orjson.dumps({"challenge": str(payload.get("challenge", ""))}))
        if payload.get("type") != "event_callback":
            return Reception()  # app_rate_limited…: nothing to answer
        inbound = _inbound(payload)
        return Reception(messages=() if inbound is None else (inbound,))

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        target = {"channel": reply["channel"], "thread_ts": reply.get("thread_ts")}
        try:
            sent = await self._formatted(self._web().chat_postMessage, text, **target)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            raise _failure("chat.postMessage", error) from None
        return str(sent["ts"])

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        target = {"channel": reply["channel"], "ts": message_id}
        try:
            await self._formatted(self._web().chat_update, text, **target)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            raise _failure("chat.update", error) from None

    @staticmethod
    async def _formatted(call: Callable[..., Awaitable[Any]], text: str, **target: Any) -> Any:
        """``call`` with the Markdown shown as mrkdwn; as plain text when the rendering is
        longer than Slack keeps or Slack refuses it (never a lost answer for its markup)."""
        rendered = to_mrkdwn(text)
        if rendered.strip() and len(rendered) <= MAX_CHARS:
            try:
                return await call(text=rendered, mrkdwn=True, **target)
            except SlackApiError as error:
                said = error.response.data if isinstance(error.response.data, dict) else {}
                if said.get("error") not in MARKUP_REFUSED:
                    raise
                log.warning("slack.markup_refused", error=str(said.get("error")))
        return await call(text=escape(text), mrkdwn=False, **target)

    async def typing(self, reply: Mapping[str, Any]) -> None:
        """Nothing: the Web API has no typing indicator for a bot's message, and the answer
        is posted with its first words and grown in place."""

    async def register(self, url: str) -> None:
        """Slack has no call to set it: its Request URL is pasted in the app's settings."""
        raise NotConfigured(
            "Slack takes a bot's Request URL in the app's settings only: at"
            " https://api.slack.com/apps open the app, then Event Subscriptions, turn"
            f" Enable Events on and paste {url} as the Request URL (Slack checks it at"
            " once), subscribe to the bot events message.im and app_mention, and Save"
            " Changes; see docs/channels.md"
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = self._client = None

    def _web(self) -> AsyncWebClient:
        if self._client is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT))
            self._client = AsyncWebClient(
                token=self._token,
                base_url=self._api_url,
                timeout=CALL_TIMEOUT,
                session=self._session,
                logger=_SDK_LOG,
                # No retry inside the client: a lost chat.postMessage that was posted must
                # not post twice; the delivery retries only what Slack refused with a wait.
                retry_handlers=[],
            )
        return self._client


def _inbound(payload: dict[str, Any]) -> Inbound | None:
    """The message a person wrote to the bot, or None for anything else."""
    event = payload.get("event")
    event_id = payload.get("event_id")
    if not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
        return None
    if event.get("bot_id") or "subtype" in event:
        return None  # bots (the bot itself), edits, joins, deletions…
    user, channel, ts, text = (_field(event, key) for key in ("user", "channel", "ts", "text"))
    if not (user and channel and ts and text):
        return None
    thread = _field(event, "thread_ts")
    if event.get("type") == "message" and event.get("channel_type") == "im":
        conversation = channel  # a DM is one conversation, threads and all
        reply = (
            {"channel": channel} if thread is None else {"channel": channel, "thread_ts": thread}
        )
    elif event.get("type") == "app_mention":
        conversation = f"{channel}:{thread or ts}"  # a mention's thread is the conversation
        reply = {"channel": channel, "thread_ts": thread or ts}
        text = _without_mention(text, _bot_users(payload))
    else:
        return None
    text = _unescaped(text)
    if not text.strip():
        return None  # a bare mention: nothing asked
    return Inbound(
        event_id=event_id, conversation=conversation, sender=user, text=text, reply=reply
    )


def _field(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) and value else None


def _bot_users(payload: dict[str, Any]) -> set[str]:
    """The bot's own user ids, as the envelope's ``authorizations`` name them."""
    found = payload.get("authorizations")
    listed = found if isinstance(found, list) else []
    return {
        str(entry["user_id"]) for entry in listed if isinstance(entry, dict) and "user_id" in entry
    }


def _without_mention(text: str, bots: set[str]) -> str:
    """``text`` without its leading mention of the bot (of anyone, when the bot is unnamed)."""
    mention = _MENTION.match(text)
    if mention is None or (bots and mention.group(1) not in bots):
        return text
    return text[mention.end() :]


def _unescaped(text: str) -> str:
    """Text as the person wrote it: Slack sends ``& < >`` as entities."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _failure(call: str, error: Exception) -> ChannelError:
    """What Slack said (its error code, never the token), and the wait a 429 asked for."""
    if not isinstance(error, SlackApiError):
        return ChannelError(f"Slack {call}: {type(error).__name__}")
    response = error.response
    data = response.data if isinstance(response.data, dict) else {}
    said = str(data.get("error") or f"HTTP {response.status_code}")
    if response.status_code != 429:
        return ChannelError(f"Slack {call}: {said}")
    headers = {str(key).lower(): value for key, value in (response.headers or {}).items()}
    try:
        wait = float(headers.get("retry-after", RATE_LIMIT_WAIT))
    except ValueError:
        wait = RATE_LIMIT_WAIT
    return ChannelError(f"Slack {call}: {said}", retry_after=wait)
