"""A WhatsApp or Messenger bot served by the real app, against the local Graph API: what
both platforms' end-to-end tests drive (Meta signs and shakes hands the same way)."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from chatorch.settings import Settings
from tests.api.channels.harness import StoredAnswers
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_meta import FakeMeta, signed


@dataclass
class MetaBot(StoredAnswers):
    client: httpx.AsyncClient
    api: FakeMeta
    settings: Settings
    webhook: str
    app_secret: str

    async def deliver(
        self,
        body: dict[str, Any],
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> int:
        """POST ``body`` as Meta does: signed with the app secret (or ``secret``), or with
        ``headers`` instead."""
        raw, signature = signed(body, secret or self.app_secret)
        response = await self.client.post(
            self.webhook, content=raw, headers=signature if headers is None else headers
        )
        return response.status_code

    async def handshake(self, **query: str) -> httpx.Response:
        params = {f"hub.{key}": value for key, value in query.items()}
        return await self.client.get(self.webhook, params=params)

    async def settled(self, answers: int = 1, timeout: float = 20) -> None:
        """Until ``answers`` answers are stored and shown, and the platform's last call is
        1.5 s old (a refused send is tried again after the wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = not self.api.calls or time.monotonic() - self.api.calls[-1]["at"] > 1.5
            shown = len(self.api.sent()) >= answers
            if len(self.answers()) >= answers and shown and quiet:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not settled: {self.answers()} {self.api.calls[-3:]}")


async def serve_bot(
    tmp_path: Path,
    api: FakeMeta,
    *,
    platform: str,
    credentials: dict[str, str],
    **settings: Any,
) -> AsyncIterator[MetaBot]:
    configured = settings_for(
        tmp_path,
        secret_keys=remember(Fernet.generate_key().decode()),
        meta_graph_url=api.url,
        **settings,
    )
    async with serve(configured) as client:
        made = await client.post(
            "/v1/bots",
            json={"platform": platform, "name": "helper", "credentials": credentials},
        )
        assert made.status_code == 201, made.text
        webhook = made.json()["webhook_url"]
        yield MetaBot(client, api, configured, webhook, credentials["app_secret"])
