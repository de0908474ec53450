"""``DiscordChannel``: the HTTP interactions endpoint and the interaction webhooks.

Every request Discord posts is signed: Ed25519 over ``X-Signature-Timestamp`` + the raw
body with the application's public key, checked with PyNaCl before the body is read.
Discord probes the endpoint with bad signatures and expects 401. A PING is answered
``{"type": 1}``; ``/ask question:…`` is deferred (``{"type": 5}``, the person sees
"thinking…") and its answer is edited into that deferred response, ``@original``, the
answer's first message; the parts after it are follow-up messages. Other interactions
get a short ephemeral note. Ordinary channel messages never reach an HTTP endpoint (they
need a Gateway connection): docs/channels.md.

Answers go as written, Discord rendering their Markdown, but for what it shows raw
(tables, deep headings, images…: ``markup.py``); a rewrite over 2000 characters, or one
Discord refuses (400), goes as written instead. Every message and edit carries
``allowed_mentions: {"parse": []}``: an answer quoting "@everyone" or ``<@id>`` pings nobody.

Interaction webhooks need no authorization (the interaction token is in the URL path,
and httpx's log lines stay off: ``chatorch.logs.NEVER_BELOW_WARNING``); the bot token is
sent only to register the ``/ask`` command.
"""

import math
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
import structlog
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from chatorch.adapters.channels.discord.markup import to_discord
from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import InvalidInput, NotConfigured, Unauthenticated

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"
MAX_AGE = 5 * 60  # s: a signed request older (or further ahead) than this is a replay
MAX_CHARS = 2000  # Discord: content of one message
CALL_TIMEOUT = 10.0  # s for one API call
TOKEN_LIFETIME = 15 * 60  # s an interaction token may edit its messages (Discord's rule)
DEFAULT_WAIT = 1.0  # s to wait after a 429 that did not say how long

ORIGINAL = "@original"  # the deferred response: the answer's first message
COMMAND, OPTION = "ask", "question"
ASK_COMMAND = {  # a global CHAT_INPUT (slash) command with one required string option
    "name": COMMAND,
    "type": 1,
    "description": "Ask the assistant a question",
    "options": [
        {"type": 3, "name": OPTION, "description": "What you want to know", "required": True}
    ],
}
ONLY_ASK = "I only understand /ask — try `/ask question: …`"

# Interaction types Discord posts, and the callback types chatorch answers with.
PING, APPLICATION_COMMAND, AUTOCOMPLETE = 1, 2, 4
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 5, 8
EPHEMERAL = 1 << 6  # message flag: shown only to the person who asked
# allowed_mentions: an answer quoting "@everyone" or a user's id pings nobody
NO_PINGS: dict[str, list[str]] = {"parse": []}

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,500}")  # part of a URL path: no "/" or "%"
_MESSAGE_ID = re.compile(r"@original|[0-9]{1,20}")


class DiscordChannel:
    max_chars = MAX_CHARS
    edits = True

    def __init__(
        self, *, application_id: str, public_key: str, bot_token: str, api_url: str
    ) -> None:
        self._application_id = application_id
        self._key = VerifyKey(bytes.fromhex(public_key))
        self._bot_token = bot_token
        self._api = api_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=CALL_TIMEOUT)
        # Interaction tokens whose @original holds the answer's first part already, with
        # when that was (monotonic s): the next send is a follow-up.
        self._filled: dict[str, float] = {}

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        seen = {name.lower(): value for name, value in headers.items()}
        signature = seen.get(SIGNATURE_HEADER, "")
        timestamp = seen.get(TIMESTAMP_HEADER, "")
        if method != "POST" or not signature or not _TIMESTAMP.fullmatch(timestamp):
            raise Unauthenticated("the Discord signature or its timestamp is missing")
        try:
            self._key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (ValueError, CryptoError):  # not hex, or not this application's signature
            raise Unauthenticated("the Discord signature is wrong") from None
        if abs(time.time() - int(timestamp)) > MAX_AGE:
            raise Unauthenticated("the Discord signature is more than 5 minutes old")

    async def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        try:
            interaction = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("the interaction is not JSON") from None
        if not isinstance(interaction, dict):
            raise InvalidInput("the interaction is not a JSON object")
        kind = interaction.get("type")
        if kind == PING:
            return _answer({"type": PONG})
        if kind == AUTOCOMPLETE:  # /ask offers no choices; a message is no answer to this
            return _answer({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}})
        inbound = self._question(interaction) if kind == APPLICATION_COMMAND else None
        if inbound is None:
            return _answer(
                {"type": CHANNEL_MESSAGE, "data": {"content": ONLY_ASK, "flags": EPHEMERAL}}
            )
        return _answer({"type": DEFERRED_CHANNEL_MESSAGE}, inbound)

    def _question(self, interaction: dict[str, Any]) -> Inbound | None:
        """The ``/ask`` interaction's question; None for any other command."""
        try:
            data = interaction.get("data") or {}
            if data.get("name") != COMMAND:
                return None
            options = data.get("options") or []
            text = next((o.get("value") for o in options if o.get("name") == OPTION), None)
            member = interaction.get("member") or {}
            user: Any = member.get("user") or interaction.get("user")  # guild, else a DM
            user_id, channel_id = str(user["id"]), str(interaction["channel_id"])
            event_id, token = str(interaction["id"]), str(interaction["token"])
        except (AttributeError, KeyError, TypeError) as error:
            log.warning("discord.interaction_unreadable", error=type(error).__name__)
            return None
        if not isinstance(text, str) or not text.strip() or not _TOKEN.fullmatch(token):
            return None
        return Inbound(
            event_id=event_id,
            conversation=f"{channel_id}:{user_id}",  # one chat per person per channel
            sender=user_id,
            text=text,
            reply={"application_id": self._application_id, "token": token},
        )

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        """The first part fills the deferred response (``@original``); each later part is a
        follow-up message."""
        token = str(reply["token"])
        if token not in self._filled:
            await self._call(
                "PATCH", _message_path(reply, ORIGINAL), what="edit @original", text=text
            )
            self._fill(token)
            return ORIGINAL
        sent = await self._call("POST", _webhook_path(reply), what="send a follow-up", text=text)
        message_id = sent.get("id") if isinstance(sent, dict) else None
        if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
            raise ChannelError("Discord send a follow-up: the answer has no message id")
        return message_id

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        path = _message_path(reply, message_id)
        await self._call("PATCH", path, what="edit a message", text=text)
        if message_id == ORIGINAL:  # known filled, by whichever process sent it first
            self._fill(str(reply["token"]))

    def _fill(self, token: str) -> None:
        now = time.monotonic()
        for known, at in list(self._filled.items()):
            if now - at > TOKEN_LIFETIME:  # the token is dead: nothing more to send with it
                del self._filled[known]
        self._filled[token] = now

    async def typing(self, reply: Mapping[str, Any]) -> None:
        """Nothing: the deferred response already shows "thinking…" until the answer's first
        words replace it."""

    async def register(self, url: str) -> None:
        """Register the global ``/ask`` command (created, or updated by its name).

        Raises:
            NotConfigured: always, once the command is registered: Discord takes the
                Interactions Endpoint URL in its Developer Portal only; the detail says where.
        """
        path = f"/applications/{self._application_id}/commands"
        headers = {"Authorization": f"Bot {self._bot_token}"}
        await self._request("POST", path, what="register /ask", json=ASK_COMMAND, headers=headers)
        raise NotConfigured(
            "the /ask command is registered; now paste the Interactions Endpoint URL in"
            " Discord's Developer Portal: https://discord.com/developers/applications/"
            f"{self._application_id}/information → Interactions Endpoint URL = {url},"
            " then Save Changes (Discord checks it with a signed PING)"
        )

    async def _call(self, method: str, path: str, *, what: str, text: str) -> Any:
        """``text`` with what Discord shows raw rewritten; as written when the rewrite is
        too long or Discord refuses it (never a lost answer for its markup)."""
        shown = to_discord(text)
        if shown == text or len(shown) > MAX_CHARS:
            return await self._request(method, path, what=what, json=_message(text))
        return await self._request(
            method, path, what=what, json=_message(shown), refused=_message(text)
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any,
        headers: Mapping[str, str] | None = None,
        refused: Any = None,
    ) -> Any:
        """Discord's JSON answer; its refusals as ``ChannelError``, never with the URL (the
        interaction token is in it). ``refused``: the body to send instead after a 400."""
        try:
            response = await self._http.request(
                method, self._api + path, json=json, headers=headers
            )
        except httpx.HTTPError as error:
            raise ChannelError(f"Discord {what}: {type(error).__name__}") from None
        if response.status_code == 400 and refused is not None:
            log.warning("discord.markup_refused", what=what, said=_said(response))
            return await self._request(method, path, what=what, json=refused, headers=headers)
        if response.status_code == 429:
            wait = _retry_after(response)
            raise ChannelError(f"Discord {what}: rate limited for {wait} s", retry_after=wait)
        if response.is_error:
            raise ChannelError(f"Discord {what}: {response.status_code} {_said(response)}")
        try:
            return response.json() if response.content else None
        except ValueError:
            return None

    async def close(self) -> None:
        await self._http.aclose()


def _message(content: str) -> dict[str, Any]:
    return {"content": content, "allowed_mentions": NO_PINGS}


def _answer(body: dict[str, Any], *messages: Inbound) -> Reception:
    return Reception(body=orjson.dumps(body), messages=messages)


def _webhook_path(reply: Mapping[str, Any]) -> str:
    application_id, token = str(reply["application_id"]), str(reply["token"])
    if not application_id.isascii() or not application_id.isdigit():
        raise ChannelError("Discord: the reply's application id is not a Discord id")
    if not _TOKEN.fullmatch(token):
        raise ChannelError("Discord: the reply's interaction token is malformed")
    return f"/webhooks/{application_id}/{token}"


def _message_path(reply: Mapping[str, Any], message_id: str) -> str:
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ChannelError("Discord: not a message id")
    return f"{_webhook_path(reply)}/messages/{message_id}"


def _retry_after(response: httpx.Response) -> float:
    """The wait Discord asked for (s): the body's ``retry_after``, else ``Retry-After``."""
    try:
        said = response.json().get("retry_after")
    except (ValueError, AttributeError):
        said = None
    if said is None:
        said = response.headers.get("retry-after")
    try:
        wait = float(said)
    except (TypeError, ValueError):
        return DEFAULT_WAIT
    return wait if math.isfinite(wait) and wait >= 0 else DEFAULT_WAIT


def _said(response: httpx.Response) -> str:
    """Discord's error, as its JSON says it (``message`` and ``code``), short."""
    try:
        body = response.json()
        said = f"{body.get('message', '')} (code {body.get('code')})"
    except (ValueError, AttributeError):
        said = response.reason_phrase
    return said[:200]
