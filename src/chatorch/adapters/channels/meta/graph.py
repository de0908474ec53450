"""What WhatsApp and Messenger share: Meta's webhook and the Graph API.

The webhook: Meta checks a callback URL with ``GET ?hub.mode=subscribe&hub.verify_token=…
&hub.challenge=…`` (the right verify token → the challenge echoed as text, else 403), then
POSTs events signed in ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw
body with the app secret (compared in constant time before the body is read).

The calls: plain ``httpx``, the token in an ``Authorization: Bearer`` header, so no URL
carries a credential. Not pywa: it is a whole bot framework that serves (or mounts) its
own webhook and dispatches to handlers, where a channel is verify, parse and one send
behind chatorch's own ASGI route; Messenger has no such library. Meta says "wait" with a
429 or with a throttling error code in ``{"error": {...}}`` (usually on a 400).
"""

import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
import structlog

from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import Forbidden, Unauthenticated

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "x-hub-signature-256"
CALL_TIMEOUT = 10.0  # s for one Graph API call
DEFAULT_WAIT = 2.0  # s to wait on a throttle that names no wait
# Graph API error codes that mean "too many calls, wait": application (4), user (17),
# page (32) and hourly (613) limits; WhatsApp's account (80007), throughput (130429) and
# pair rate (131056: about one message per 6 s to one person) limits.
THROTTLED = {4: DEFAULT_WAIT, 17: DEFAULT_WAIT, 32: DEFAULT_WAIT, 613: DEFAULT_WAIT}
THROTTLED |= {80007: DEFAULT_WAIT, 130429: DEFAULT_WAIT, 131056: 6.0}


class MetaWebhook:
    """The handshake and the signature of one Meta app's webhook."""

    def __init__(self, *, app_secret: str, verify_token: str) -> None:
        self._secret = app_secret.encode()
        self._verify_token = verify_token.encode()

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        """A GET is Meta's handshake (no signature): its verify token must be right; a POST
        must be signed with the app secret."""
        if method == "GET":
            if not self._subscribing(query):
                raise Forbidden("the webhook's verify token is missing or wrong")
            return
        given = headers.get(SIGNATURE_HEADER, "")
        scheme, _, digest = given.partition("=")
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()
        if (
            method != "POST"
            or scheme != "sha256"
            or not hmac.compare_digest(digest.lower().encode(), expected)
        ):
            raise Unauthenticated("the X-Hub-Signature-256 signature is missing or wrong")

    def handshake(self, query: Mapping[str, str]) -> Reception:
        """The answer to Meta's GET: its challenge, echoed as text, for the right token."""
        if not self._subscribing(query):
            return Reception(status=403, media_type="text/plain")
        return Reception(body=query.get("hub.challenge", "").encode(), media_type="text/plain")

    def _subscribing(self, query: Mapping[str, str]) -> bool:
        token = query.get("hub.verify_token", "").encode()
        subscribe = query.get("hub.mode") == "subscribe"
        return hmac.compare_digest(token, self._verify_token) and subscribe


def payload(body: bytes, *, platform: str, kind: str) -> dict[str, Any] | None:
    """The webhook's JSON object when it is about ``kind`` (its ``object``), else None.

    An unreadable body is acknowledged all the same (logged): Meta would redeliver it, and
    no redelivery makes it readable."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        log.warning(f"{platform}.event_unreadable", error=str(error)[:200])
        return None
    if not isinstance(parsed, dict) or parsed.get("object") != kind:
        return None
    return parsed


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects in a JSON list (what a webhook holds where it should), else none."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def text_of(value: Any) -> str | None:
    """A non-empty string, or None for anything else."""
    return value if isinstance(value, str) and value else None


class GraphApi:
    """POSTs to the Graph API with one token, failures as ``ChannelError``."""

    def __init__(self, *, api_url: str, token: str, platform: str) -> None:
        self._platform = platform
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=CALL_TIMEOUT,
            follow_redirects=False,
        )

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of a successful call.

        Raises:
            ChannelError: Meta refused (``retry_after`` set when it throttled), or the
                call failed on the way (it may have been made: never retried).
        """
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as error:
            raise ChannelError(f"{self._platform} {path}: {type(error).__name__}") from None
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        raise self._failure(path, response, answer)

    def _failure(self, path: str, response: httpx.Response, answer: Any) -> ChannelError:
        error = answer.get("error") if isinstance(answer, dict) else None
        error = error if isinstance(error, dict) else {}
        code = _int(error.get("code"))
        said = str(error.get("message") or f"HTTP {response.status_code}")
        if self._token:  # Meta does not echo the token; should it ever, it is not printed
            said = said.replace(self._token, "…")
        said = said[:300]
        detail = f"{self._platform} {path}: {said}" + (f" (code {code})" if code else "")
        if response.status_code != 429 and code not in THROTTLED:
            return ChannelError(detail)
        wait = _seconds(response.headers.get("retry-after"))
        if wait is None:
            wait = THROTTLED.get(code or 0, DEFAULT_WAIT)
        return ChannelError(detail, retry_after=wait)

    async def close(self) -> None:
        await self._http.aclose()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds (an HTTP date, or nonsense, counts as none)."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class MetaChannel:
    """What a WhatsApp and a Messenger channel share: the webhook's checks, the GET
    handshake, one token's Graph API, and no edits (the answer is sent when it is done).
    A platform says what an event's ``object`` is and reads its messages (``_messages``)."""

    edits = False
    platform = ""  # the name in errors and log lines
    kind = ""  # the ``object`` of the platform's webhook events

    def __init__(self, *, token: str, app_secret: str, verify_token: str, api_url: str) -> None:
        self._webhook = MetaWebhook(app_secret=app_secret, verify_token=verify_token)
        self._graph = GraphApi(api_url=api_url, token=token, platform=self.platform)

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        self._webhook.verify(method=method, headers=headers, query=query, body=body)

    async def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        if method == "GET":
            return self._webhook.handshake(query)
        event = payload(body, platform=self.platform.lower(), kind=self.kind)
        if event is None:
            return Reception()
        return Reception(messages=tuple(self._messages(dicts(event.get("entry")))))

    def _messages(self, entries: list[dict[str, Any]]) -> list[Inbound]:
        raise NotImplementedError

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        raise ChannelError(f"{self.platform} cannot edit a sent message")

    async def close(self) -> None:
        await self._graph.close()
