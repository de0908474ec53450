"""OidcDiscovery: an identity provider's metadata, from ``/.well-known/openid-configuration``.

One document tells both halves of signing in where to go: the web page (where to send
the user, where to trade the code for tokens) and the verifier (where the signing keys
are). It is fetched with a short timeout and kept a while; a failure is kept briefly
too, so a provider that is down costs one slow fetch per ``retry_after``, not one per
page load. The document is checked as OpenID Connect Discovery 1.0 §4.3 asks: its
``issuer`` must be the one configured, else it speaks for someone else.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from chatorch.domain.errors import ServiceUnavailable

WELL_KNOWN = "/.well-known/openid-configuration"
DISCOVERY_TIMEOUT = 5.0  # s for one fetch of the document
DISCOVERY_LIFESPAN = 300.0  # s a fetched document is trusted before it is fetched again
DISCOVERY_RETRY = 15.0  # s a failed fetch is remembered before the provider is asked again
MAX_DOCUMENT_BYTES = 256 * 1024

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What chatorch uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


def discovery_url(issuer: str) -> str:
    """Discovery §4: a terminating ``/`` of the issuer goes before the well-known path."""
    return issuer.rstrip("/") + WELL_KNOWN


class OidcDiscovery:
    """The metadata of the provider ``issuer``, fetched when first asked and then cached."""

    def __init__(
        self,
        issuer: str,
        *,
        timeout: float = DISCOVERY_TIMEOUT,
        lifespan: float = DISCOVERY_LIFESPAN,
        retry_after: float = DISCOVERY_RETRY,
    ) -> None:
        self.issuer = issuer
        self.url = discovery_url(issuer)
        self._timeout = timeout
        self._lifespan = lifespan
        self._retry_after = retry_after
        self._known: tuple[float, ProviderMetadata | ServiceUnavailable] | None = None
        self._lock: asyncio.Lock | None = None

    async def metadata(self) -> ProviderMetadata:
        """The provider's endpoints.

        Raises:
            ServiceUnavailable: the document could not be fetched or is not usable; the
                detail says why, and is kept for ``retry_after`` seconds.
        """
        if (found := self._fresh()) is not None:
            return _result(found)
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:  # one fetch at a time: the others wait for its answer
            if (found := self._fresh()) is None:
                found = await self._fetch()
                self._known = (time.monotonic(), found)
        return _result(found)

    def _fresh(self) -> ProviderMetadata | ServiceUnavailable | None:
        if self._known is None:
            return None
        at, found = self._known
        ttl = self._retry_after if isinstance(found, ServiceUnavailable) else self._lifespan
        return found if time.monotonic() - at < ttl else None

    async def _fetch(self) -> ProviderMetadata | ServiceUnavailable:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            return self._failed(f"{type(error).__name__}: {error}".rstrip(": "))
        if response.status_code != 200:
            return self._failed(f"it answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            return self._failed(f"the document is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = response.json()
        except ValueError:
            return self._failed("the answer is not JSON")
        try:
            return _parse(document, self.issuer)
        except ValueError as error:
            return self._failed(str(error))

    def _failed(self, why: str) -> ServiceUnavailable:
        log.warning("oidc.discovery_failed", url=self.url, reason=why)
        return ServiceUnavailable(f"identity provider discovery at {self.url} failed: {why}")


def _result(found: ProviderMetadata | ServiceUnavailable) -> ProviderMetadata:
    if isinstance(found, ServiceUnavailable):
        raise ServiceUnavailable(found.detail)  # a new one each time: no shared traceback
    return found


def _parse(document: Any, issuer: str) -> ProviderMetadata:
    if not isinstance(document, dict):
        raise ValueError("the document is not a JSON object")
    if document.get("issuer") != issuer:
        raise ValueError(
            f"the document names the issuer {document.get('issuer')!r}, not {issuer!r}"
        )
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ValueError("the provider does not support PKCE with S256")
    endpoints = {
        name: _endpoint(document, name)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
    }
    end_session = document.get("end_session_endpoint")
    return ProviderMetadata(
        issuer=issuer,
        end_session_endpoint=_endpoint(document, "end_session_endpoint") if end_session else None,
        **endpoints,
    )


def _endpoint(document: dict[str, Any], name: str) -> str:
    url = document.get(name)
    if not isinstance(url, str):
        raise ValueError(f"the document has no {name}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError(f"its {name} {url!r} is not an absolute http(s) URL")
    return url
