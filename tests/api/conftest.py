"""Serve a real app over real HTTP (uvicorn on a free port) for API tests.

SSE needs a real server: an in-process ASGI transport would buffer the endless
stream. Each test gets its own SQLite database under ``tmp_path``.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import aconnect_sse

from chatorch.api.app import create_app
from chatorch.api.protocol import server_options
from chatorch.settings import Settings

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Event:
    id: str
    event: str
    data: dict[str, Any]


@asynccontextmanager
async def serve(
    settings: Settings, *, protocol: type[asyncio.Protocol] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app on 127.0.0.1 with a free port, on the connection protocol chatorch
    serves with (or ``protocol``); yield a client for it."""
    options = server_options(settings)
    if protocol is not None:
        options["http"] = protocol
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_config=None, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    config.timeout_graceful_shutdown = 1
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        timeout = httpx.Timeout(10, read=30)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=timeout
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/chatorch.db",
        "blob_url": f"file:{tmp_path}/files",  # uploads stay in the test's folder
    }
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{**defaults, **overrides},
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(tmp_path)) as http:
        yield http


async def new_chat(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/chats", json={})
    assert response.status_code == 201, response.text
    chat_id: str = response.json()["id"]
    return chat_id


async def ask(client: httpx.AsyncClient, chat_id: str, content: str, **headers: str) -> Any:
    response = await client.post(
        f"/v1/chats/{chat_id}/messages", json={"content": content}, headers=headers
    )
    assert response.status_code == 202, response.text
    return response.json()


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    count: int | None = None,
    timeout: float = 20,
) -> list[Event]:
    """Collect SSE events until the stream ends (a scoped stream ends after done/error)."""
    events: list[Event] = []

    async def collect() -> None:
        async with aconnect_sse(client, "GET", url, headers=dict(headers or {})) as source:
            assert source.response.status_code == 200, await source.response.aread()
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue  # the opening `retry:` advice carries no event
                events.append(Event(sse.id, sse.event, json.loads(sse.data)))
                if count is not None and len(events) >= count:
                    return

    await asyncio.wait_for(collect(), timeout)
    return events


def text_of(events: list[Event]) -> str:
    """The answer a client assembles: tokens, restarted at each reset."""
    text = ""
    for event in events:
        if event.event == "reset":
            text = ""
        elif event.event == "token":
            text += event.data["text"]
    return text
