"""Reading a running chatorch over HTTP, for the end-to-end tests."""

import json
from collections.abc import Callable

import httpx
from httpx_sse import aconnect_sse

from tests.api.conftest import Event


async def read_stream(
    url: str,
    path: str,
    *,
    after: str | None = None,
    count: int = 0,
    on_event: Callable[[Event], None] | None = None,
) -> list[Event]:
    """Read a response's stream to its end, or only its first ``count`` events;
    ``on_event`` sees each event as it arrives (to act in the middle of a stream)."""
    headers = {"Last-Event-ID": after} if after else {}
    events: list[Event] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        aconnect_sse(http, "GET", path, headers=headers) as source,
    ):
        async for sse in source.aiter_sse():
            if sse.data:
                events.append(Event(sse.id, sse.event, json.loads(sse.data)))
                if on_event is not None:
                    on_event(events[-1])
            if count and sum(e.event == "token" for e in events) >= count:
                break
    return events


async def read_history(url: str, chat_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=url) as http:
        messages: list[dict[str, object]] = (await http.get(f"/v1/chats/{chat_id}/messages")).json()
        return messages
