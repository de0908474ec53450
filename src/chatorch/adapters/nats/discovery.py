"""Discovery through the NATS Services API (``nats.micro``): who is running, and how busy.

Every gateway and worker announces itself as a service named ``<namespace>-<role>``, so
any NATS tool (``nats micro ls``, ``$SRV.PING``/``INFO``/``STATS``) lists it with its
version; its STATS carry the pod's load. ``survey`` collects those answers.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service, ServiceConfig

from chatorch import __version__

Load = Callable[[], dict[str, float]]
SURVEY_WAIT = 0.5  # s to collect the answers of every live process


async def announce(
    client: Client, *, namespace: str, role: str, pod_id: str, load: Load
) -> Service:
    """Register this process; the returned service stops with ``await service.stop()``."""
    config = ServiceConfig(
        name=f"{namespace}-{role}",
        version=__version__,
        description=f"chatorch {role}",
        metadata={"pod_id": pod_id, "role": role, "namespace": namespace},
        stats_handler=lambda _stats: load(),
    )
    service = await add_service(client, config)

    async def answer_load(request: Request) -> None:
        await request.respond(orjson.dumps(load()))

    await service.add_endpoint(
        name="load", subject=f"{namespace}.svc.{pod_id}.load", handler=answer_load
    )
    return service


async def survey(client: Client, *, namespace: str) -> list[dict[str, Any]]:
    """Every live chatorch process of ``namespace``: role, pod, version, start and load."""
    inbox = client.new_inbox()
    found: list[dict[str, Any]] = []
    subscription = await client.subscribe(inbox)
    try:
        await client.publish("$SRV.STATS", b"", reply=inbox)
        await client.flush()
        deadline = asyncio.get_running_loop().time() + SURVEY_WAIT
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                message = await subscription.next_msg(timeout=left)
            except TimeoutError:
                break
            if not message.data:  # "no responders": nothing of ours is running
                break
            stats = orjson.loads(message.data)
            metadata = stats.get("metadata") or {}
            if metadata.get("namespace") == namespace:
                found.append(_row(stats, metadata))
    finally:
        await subscription.unsubscribe()
    return sorted(found, key=lambda row: (row["role"], row["pod_id"]))


def _row(stats: dict[str, Any], metadata: dict[str, str]) -> dict[str, Any]:
    endpoints = stats.get("endpoints") or [{}]
    return {
        "role": metadata.get("role", "?"),
        "pod_id": metadata.get("pod_id", "?"),
        "version": stats.get("version", "?"),
        "started": stats.get("started", ""),
        "load": endpoints[0].get("data") or {},
    }
