"""What the API and the workers are handed: ports and services, no driver.

``chatorch.wiring`` builds a ``Container`` from the settings; the API imports only this
module's types, so importing a router pulls in no database, bus or SDK client.
"""

import asyncio
import os
import socket
from dataclasses import dataclass
from typing import Any, Literal

from chatorch.domain.entities import User
from chatorch.domain.errors import ChatorchError
from chatorch.pipeline.inbox import ChannelInbox
from chatorch.pipeline.request import RequestProcessor
from chatorch.pipeline.runner import Runner
from chatorch.ports.bus import Bus
from chatorch.ports.cache import Cache
from chatorch.ports.embeddings import Embedder
from chatorch.ports.registry import Registry
from chatorch.ports.store import Store
from chatorch.ports.vectors import VectorIndex
from chatorch.services.artifacts import ArtifactManager
from chatorch.services.auth import Authenticator
from chatorch.services.bots import BotManager
from chatorch.services.channels import BotChannels
from chatorch.services.llm import Chains, LLMManager
from chatorch.services.metrics import MetricsCollector
from chatorch.services.prompts import PromptManager
from chatorch.services.retrieval import Retriever
from chatorch.services.secrets import Vault
from chatorch.services.tools import ToolRegistry
from chatorch.settings import Settings

Role = Literal["serve", "gateway", "worker"]
READINESS_TIMEOUT = 2.0  # s each backing service has to answer a readiness probe


@dataclass(slots=True)
class Container:
    settings: Settings
    pod_id: str
    store: Store
    bus: Bus
    cache: Cache
    registry: Registry
    llm: LLMManager  # the server's chain (CHATORCH_LLM)
    chains: Chains  # that one, and those bots name
    tools: ToolRegistry
    metrics: MetricsCollector
    processor: RequestProcessor
    local_user: User
    auth: Authenticator
    vault: Vault | None
    bots: BotManager
    channels: BotChannels
    inbox: ChannelInbox
    prompts: PromptManager
    artifacts: ArtifactManager  # uploaded files: bytes, text, chunks
    retriever: Retriever  # the passages of files that answer a question
    runner: Runner | None = None
    # Chunks of files by meaning, and what makes their vectors; None without an index
    # (distributed with no Qdrant server: files are searched by full text alone).
    embedder: Embedder | None = None
    vectors: VectorIndex | None = None

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """Ask every backing service; report each one's state and whether it is critical.

        The store and the bus are critical: without them no answer is made. Without the
        cache, the registry or the vector index chatorch still answers, degraded.
        """
        services: dict[str, Any] = {
            "store": self.store,
            "bus": self.bus,
            "cache": self.cache,
            "registry": self.registry,
        }
        if self.vectors is not None:
            services["vectors"] = self.vectors
        results = await asyncio.gather(*(_check(s) for s in services.values()))
        checks = dict(zip(services, results, strict=True))
        for name, check in checks.items():
            check["critical"] = name in ("store", "bus")
        return checks


async def _check(service: Any) -> dict[str, Any]:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT):
            await service.ping()
    except (ChatorchError, OSError, TimeoutError) as error:
        return {"ok": False, "error": str(error) or type(error).__name__, **service.describe()}
    return {"ok": True, **service.describe()}


def default_pod_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
