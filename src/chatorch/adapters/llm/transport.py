"""What a failed HTTP exchange with a provider means: in words a person can act on,
and when to try again.

Both SDKs run on httpx2 and, with their aiohttp extra, on aiohttp underneath; a read
that fails mid-stream reaches us as the bare transport error, unwrapped by the SDK.
"""

import math

import httpx2


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


def retry_after_seconds(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds, if it is a plain non-negative number."""
    try:
        seconds = float(header or "")
    except ValueError:  # absent, or an HTTP date
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
