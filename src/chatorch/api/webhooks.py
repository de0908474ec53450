"""Webhooks: where messaging platforms deliver people's messages to a bot.

Each request is verified on its raw bytes by the bot's channel before anything reads
it (a forged or stale one is a 401 and leaves no trace); what it brings is accepted as
turns — stored and queued, answered by a worker — and the platform gets its answer at
once, well within the 3 s Slack and Discord wait. Authentication is the platform's
signature, not an API key: ``AuthenticateFirst`` leaves these routes alone.
"""

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Path, Request, Response

from chatorch.api.deps import ContainerDep
from chatorch.container import Container
from chatorch.domain.errors import NotFound

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])
PREFIX = "/v1/webhooks/"


BotPath = Annotated[UUID, Path(description="the bot, as in its webhook_url")]


@router.post(PREFIX + "{bot_id}", responses={200: {"description": "acknowledged"}})
async def delivery(bot_id: BotPath, request: Request, c: ContainerDep) -> Response:
    """A platform's delivery of people's messages."""
    return await _received(bot_id, request, c)


@router.get(PREFIX + "{bot_id}", responses={200: {"description": "the handshake's answer"}})
async def handshake(bot_id: BotPath, request: Request, c: ContainerDep) -> Response:
    """A platform's check of the webhook (Meta's verify token)."""
    return await _received(bot_id, request, c)


async def _received(bot_id: UUID, request: Request, c: Container) -> Response:
    found = await c.channels.get(bot_id)
    if found is None:
        raise NotFound(f"no bot {bot_id}")
    bot, channel = found
    method, headers, query = request.method, request.headers, request.query_params
    body = await request.body()
    channel.verify(method=method, headers=headers, query=query, body=body)
    reception = await channel.receive(method=method, headers=headers, query=query, body=body)
    for inbound in reception.messages:
        submitted = await c.inbox.accept(bot, inbound)
        log.info(
            "channel.received",
            bot_id=str(bot.id),
            platform=bot.platform.value,
            message_id=str(submitted.message.id),
            replayed=submitted.replayed,
        )
    return Response(reception.body, reception.status, media_type=reception.media_type)
