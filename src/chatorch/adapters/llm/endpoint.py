"""Sending a provider's streamed call: what the SDK worked out once, without its
per-call machinery.

The official SDK resolves the base URL (argument or environment), the authentication,
version and client headers, and builds the HTTP client (httpx2 on aiohttp, with its
timeout). Its ``post`` then does all of that again for every call — options validated
and copied, headers and URL rebuilt, the send wrapped in auth-retry layers — at about
as much CPU as the rest of the answer's model call together (ADR 0011). An
``Endpoint`` takes the SDK's URL and headers when the provider is made and sends each
call with the SDK's own HTTP client.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx2
import orjson

from chatorch.adapters.llm.transport import StatusFailure


class ConfiguredClient(Protocol):
    """What an official SDK client knows about where and how to send."""

    @property
    def base_url(self) -> httpx2.URL: ...

    @property
    def default_headers(self) -> Mapping[str, object]: ...

    @property
    def auth_headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API path of a provider, with the headers every call to it carries."""

    http: httpx2.AsyncClient
    url: httpx2.URL
    headers: httpx2.Headers

    @classmethod
    def of(cls, sdk: ConfiguredClient, http: httpx2.AsyncClient, path: str) -> "Endpoint":
        """``path`` under the SDK client's base URL, sent as the SDK would send it.

        Headers the SDK leaves out (an ``Omit`` for an unset organization) are left out.
        """
        headers = {k: v for k, v in sdk.default_headers.items() if isinstance(v, str)}
        headers |= sdk.auth_headers
        url = httpx2.URL(str(sdk.base_url).rstrip("/") + path)
        return cls(http, url, httpx2.Headers(headers))

    @asynccontextmanager
    async def streamed(self, body: dict[str, object]) -> AsyncIterator[httpx2.Response]:
        """The unread response to ``body``, closed after; an error status raises
        :class:`StatusFailure` with what the server said."""
        content = orjson.dumps(body)
        request = self.http.build_request("POST", self.url, content=content, headers=self.headers)
        response = await self.http.send(request, stream=True)
        try:
            if response.is_error:
                await response.aread()
                raise StatusFailure.of(response)
            yield response
        finally:
            await response.aclose()
