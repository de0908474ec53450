"""A small client of chatorch's public HTTP API, for ``chatorch chat`` and scripts.

It speaks only the public contract (``/v1/chats``, messages, the event stream, cancel)
and turns what can go wrong into one ``ClientError`` whose message a person can act
on: the server is unreachable, the key was refused, a request was refused and why.
"""

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
from httpx_sse import aconnect_sse

CONNECT_TIMEOUT = 10.0  # s; a stream's reads wait as long as the answer takes


class ClientError(Exception):
    """The server refused a request or could not be reached; the message says which."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event of an answer's stream: ``token``, ``step``, ``reset``, ``done``, ``error``."""

    kind: str
    data: dict[str, Any]


class ChatClient:
    """``async with ChatClient(url, key=…) as client:`` one connection pool to a server."""

    def __init__(self, url: str, *, key: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._keyed = bool(key)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def create_chat(self) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", "/v1/chats", {})
        return created

    async def delete_chat(self, chat_id: str) -> None:
        try:
            response = await self._http.delete(f"/v1/chats/{chat_id}")
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        if response.is_error:
            raise self._refusal("DELETE", f"/v1/chats/{chat_id}", response)

    async def list_chats(self, *, limit: int = 10) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", f"/v1/chats?limit={limit}")
        return found

    async def send(self, chat_id: str, text: str) -> dict[str, Any]:
        """Post a message; the answer: ``{message, response_id, events_url}``."""
        path = f"/v1/chats/{chat_id}/messages"
        accepted: dict[str, Any] = await self._call("POST", path, {"content": text})
        return accepted

    async def cancel(self, chat_id: str, response_id: str) -> bool:
        """Ask the server to stop the answer; False when it cannot cancel answers."""
        path = f"/v1/chats/{chat_id}/responses/{response_id}/cancel"
        try:
            await self._call("POST", path, {})
        except _Refused as refused:
            if refused.status in (404, 405):  # a server from before cancel existed
                return False
            raise
        return True

    async def events(self, events_url: str) -> AsyncIterator[Event]:
        """The answer's events, until its ``done`` or ``error`` (included)."""
        try:
            async with aconnect_sse(self._http, "GET", events_url) as source:
                if source.response.is_error:
                    await source.response.aread()
                    raise self._refusal("GET", events_url, source.response)
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue  # e.g. the opening `retry:` advice
                    event = Event(sse.event, json.loads(sse.data))
                    yield event
                    if event.kind in ("done", "error"):
                        return
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        raise ClientError("the event stream ended before the answer did")

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        if response.is_error:
            raise self._refusal(method, path, response)
        return response.json()

    def _unreachable(self, error: httpx.TransportError) -> ClientError:
        return ClientError(f"cannot reach chatorch at {self.url}: {_reason(error)}")

    def _refusal(self, method: str, path: str, response: httpx.Response) -> ClientError:
        if response.status_code == 401:
            if self._keyed:
                return ClientError("the API key was refused (check --key or CHATORCH_API_KEY)")
            return ClientError("the server needs an API key: pass --key or set CHATORCH_API_KEY")
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        return _Refused(f"the server refused it (HTTP {response.status_code}): {detail}", response)


class _Refused(ClientError):
    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.status = response.status_code


def _reason(error: BaseException) -> str:
    """Why a connection failed, in words: the cause httpx wraps (and with several
    addresses tried, words over)."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__
