"""Sending a provider's streamed call: what the SDK worked out once, sent with aiohttp.

The official SDK resolves the base URL (argument or environment) and the
authentication, version and client headers. Its ``post`` then does all of that again
for every call — options validated and copied, headers and URL rebuilt, the send
wrapped in auth-retry layers — and its HTTP client (httpx2 over aiohttp) wraps every
request, response and read in httpx2's own objects, which together cost as much CPU as
the rest of the answer's model call (ADR 0011). An ``Endpoint`` takes the SDK's URL
and headers when the provider is made and sends each call on one aiohttp session: the
same transport the SDK's client uses underneath, without the layers above it.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Protocol

import aiohttp
import orjson

from chatorch.adapters.llm.transport import StatusFailure

CONNECTIONS = 1_000  # open at once, across the provider's hosts: as the SDK's client


class ConfiguredClient(Protocol):
    """What an official SDK client knows about where and how to send."""

    @property
    def base_url(self) -> object: ...

    @property
    def default_headers(self) -> Mapping[str, object]: ...

    @property
    def auth_headers(self) -> Mapping[str, str]: ...


class Endpoint:
    """One API path of a provider, with the headers every call to it carries."""

    def __init__(self, url: str, headers: Mapping[str, str], *, timeout: float) -> None:
        self.url = url
        self.headers = dict(headers)
        # Per step, as the SDK counts it: connecting, and each read of the stream.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def of(cls, sdk: ConfiguredClient, path: str, *, timeout: float) -> "Endpoint":
        """``path`` under the SDK client's base URL, sent as the SDK would send it.

        Headers the SDK leaves out (an ``Omit`` for an unset organization) are left out.
        """
        headers = {k: v for k, v in sdk.default_headers.items() if isinstance(v, str)}
        headers |= sdk.auth_headers
        return cls(str(sdk.base_url).rstrip("/") + path, headers, timeout=timeout)

    @asynccontextmanager
    async def streamed(self, body: dict[str, object]) -> AsyncIterator[aiohttp.ClientResponse]:
        """The unread response to ``body``, released after; an error status raises
        :class:`StatusFailure` with what the server said."""
        content = orjson.dumps(body)
        async with self._open().post(self.url, data=content, headers=self.headers) as response:
            if response.status >= 400:
                said = await response.read()
                raise StatusFailure.of(
                    response.status, said, reason=response.reason, headers=response.headers
                )
            yield response

    async def fetched(self, url: str, *, timeout: float) -> object:
        """GET ``url`` (another path of the same API) with this endpoint's headers, on its
        session, within ``timeout`` s: the parsed JSON answer; an error status raises
        :class:`StatusFailure`. For cheap questions such as the list of models."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        limit = aiohttp.ClientTimeout(total=timeout)
        async with self._open().get(url, headers=headers, timeout=limit) as response:
            said = await response.read()
            if response.status >= 400:
                raise StatusFailure.of(
                    response.status, said, reason=response.reason, headers=response.headers
                )
        return orjson.loads(said)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp wants it made on the running loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=CONNECTIONS)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=True
            )
        return self._session
