"""What a failed HTTP exchange with a provider means: in words a person can act on,
and when to try again.

Calls go over aiohttp (``endpoint``): a failed connection or read arrives as one of
its client errors or a timeout, an error status as a :class:`StatusFailure`.
"""

import math
import time
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
import orjson

from chatorch.domain.errors import LLMError
from chatorch.ports.llm import Probe


class StatusFailure(Exception):
    """A provider answered with an HTTP error status instead of a stream."""

    def __init__(self, status: int, message: str, *, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def of(
        cls, status: int, body: bytes, *, reason: str | None, headers: Mapping[str, str]
    ) -> "StatusFailure":
        """From an error response: its ``error.message`` (both APIs put it there), else
        its text; ``Retry-After`` only where it asks to slow down (429)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = message or body.decode(errors="replace").strip() or reason or ""
        retry_after = None
        if status == 429:
            retry_after = retry_after_seconds(headers.get("retry-after"))
        return cls(status, str(text)[:500], retry_after=retry_after)

    @property
    def retryable(self) -> bool:
        """Timeouts, conflicts, rate limits and server errors (529: overloaded)."""
        return self.status in (408, 409, 429) or self.status >= 500

    def detail(self, *, url: str) -> str:
        said = f"HTTP {self.status} from {url}: {self.message}"
        return said if self.retry_after is None else f"{said} (retry after {self.retry_after:g} s)"


# What a failed exchange raises, besides an error status: aiohttp's client errors, and
# timeouts (a connect or read timeout is both a client error and a TimeoutError).
TransportError = (aiohttp.ClientError, TimeoutError)


def describe(exc: BaseException, *, url: str, timeout: float) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, no route, unknown host
        return f"cannot reach {url}: {exc.os_error}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {url} within {timeout:g} s"
    return f"the connection to {url} broke: {exc!r}"


def failure(
    exc: BaseException,
    *,
    label: str,
    url: str,
    timeout: float,
    scrub: Callable[[str], str],
) -> LLMError:
    """The ``LLMError`` for a call that failed (a ``StatusFailure`` or a
    ``TransportError``): what happened, where, and whether to retry.

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


async def probed(
    answer: Awaitable[object],
    *,
    label: str,
    url: str,
    timeout: float,
    scrub: Callable[[str], str],
    judge: Callable[[object], str],
) -> Probe:
    """The :class:`Probe` of one cheap request (``answer``, e.g. the list of models):
    ``judge`` words a good answer (and raises ``ValueError`` for a malformed one); a
    failure is worded as a failed call would be, the key scrubbed."""
    started = time.perf_counter()

    def spent() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        said = judge(await answer)
    except StatusFailure as exc:
        error = failure(exc, label=label, url=url, timeout=timeout, scrub=scrub)
        return Probe(ok=False, detail=error.detail, latency_ms=spent(), status=exc.status)
    except TransportError as exc:
        error = failure(exc, label=label, url=url, timeout=timeout, scrub=scrub)
        return Probe(ok=False, detail=error.detail, latency_ms=spent())
    except (orjson.JSONDecodeError, ValueError) as exc:
        detail = f"{label}: {url} answered, but not as the API does: {exc}"
        return Probe(ok=False, detail=scrub(detail), latency_ms=spent())
    return Probe(ok=True, detail=scrub(f"{label}: {said}"), latency_ms=spent())
