"""What a failed HTTP exchange with a provider means: in words a person can act on,
and when to try again.

Calls go over the SDK's HTTP client (httpx2 on aiohttp, ``endpoint``): a failed
connection or read arrives as httpx2's transport error, an error status as a
:class:`StatusFailure`.
"""

import math
from collections.abc import Callable

import httpx2
import orjson

from chatorch.domain.errors import LLMError


class StatusFailure(Exception):
    """A provider answered with an HTTP error status instead of a stream."""

    def __init__(self, status: int, message: str, *, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def of(cls, response: httpx2.Response) -> "StatusFailure":
        """From a read error response: its ``error.message`` (both APIs put it there),
        else its text; ``Retry-After`` only where it asks to slow down (429)."""
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        error = body.get("error", body) if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = str(message or response.text or response.reason_phrase)[:500]
        retry_after = None
        if response.status_code == 429:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return cls(response.status_code, text, retry_after=retry_after)

    @property
    def retryable(self) -> bool:
        """Timeouts, conflicts, rate limits and server errors (529: overloaded)."""
        return self.status in (408, 409, 429) or self.status >= 500

    def detail(self, *, url: str) -> str:
        said = f"HTTP {self.status} from {url}: {self.message}"
        return said if self.retry_after is None else f"{said} (retry after {self.retry_after:g} s)"


def root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def refused(exc: BaseException) -> bool:
    """True when ``exc`` comes from a socket error that is not a timeout.

    The aiohttp transport reports a refused connection as a connect *timeout*; the
    original error at the bottom of the chain tells the two apart.
    """
    cause = root_cause(exc)
    return isinstance(cause, OSError) and not isinstance(cause, TimeoutError)


def describe(exc: httpx2.TransportError, *, url: str, timeout: float) -> str:
    if refused(exc) or isinstance(exc, httpx2.ConnectError):
        return f"cannot reach {url}: {root_cause(exc)}"
    if isinstance(exc, httpx2.TimeoutException):
        return f"no answer from {url} within {timeout:g} s"
    return f"the connection to {url} broke: {exc!r}"


def failure(
    exc: StatusFailure | httpx2.TransportError,
    *,
    label: str,
    url: str,
    timeout: float,
    scrub: Callable[[str], str],
) -> LLMError:
    """The ``LLMError`` for a call that failed: what happened, where, and whether to retry.

    ``scrub`` removes the API key from what a server may have echoed back.
    """
    if isinstance(exc, StatusFailure):
        detail = f"{label}: {exc.detail(url=url)}"
        return LLMError(scrub(detail), retryable=exc.retryable, retry_after=exc.retry_after)
    detail = f"{label}: {describe(exc, url=url, timeout=timeout)}"
    return LLMError(scrub(detail), retryable=True)  # refused, timed out, cut mid-stream


def retry_after_seconds(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds, if it is a plain non-negative number."""
    try:
        seconds = float(header or "")
    except ValueError:  # absent, or an HTTP date
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
