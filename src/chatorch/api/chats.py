"""Chats: create, list, read, rename and delete the chats of the current user."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from chatorch.api import direct
from chatorch.api.deps import ContainerDep, UserDep, container_of, current_user, json_body
from chatorch.api.schemas import NO_NUL, NOT_BLANK, ChatDetail, ChatOut, NewChat
from chatorch.domain.entities import AuditEvent, Status
from chatorch.domain.errors import NotFound, ServiceUnavailable
from chatorch.pipeline.cancel import TOPIC as CANCEL_TOPIC
from chatorch.pipeline.request import owned_chat

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/chats", tags=["chats"])

UNANSWERED_SEEN = 50  # latest messages searched for answers to stop when a chat is deleted
direct_router = direct.router("/v1/chats", tags=["chats"])


@direct_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatOut,
    openapi_extra=direct.documented(body=NewChat),
)
async def create_chat(request: Request) -> Response:
    """Start a chat; the body (``{"title": …}``) may be left out."""
    user = await current_user(request)
    body = await direct.body(request, NewChat)
    chat = await container_of(request).processor.create_chat(user, title=body.title if body else "")
    return direct.json_response(
        ChatOut.of(chat), status.HTTP_201_CREATED, {"Location": f"/v1/chats/{chat.id}"}
    )


@router.get("", response_model=list[ChatOut])
async def list_chats(
    c: ContainerDep,
    user: UserDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[UUID | None, Query(description="only chats older than this id")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="only chats whose title holds this"),
    ] = None,
) -> list[ChatOut]:
    """The user's chats, newest first; a full page links the next in ``Link``. With
    ``q``, only those whose title holds it, in any case."""
    async with c.store.transaction() as tx:
        chats = await tx.chats.list_chats(user.id, limit=limit, before=before, title_contains=q)
    if len(chats) == limit:
        query = {"limit": limit, "before": chats[-1].id} | ({"q": q} if q else {})
        response.headers["Link"] = f'</v1/chats?{urlencode(query)}>; rel="next"'
    return [ChatOut.of(chat) for chat in chats]


@router.get("/{chat_id}", response_model=ChatDetail)
async def get_chat(chat_id: UUID, c: ContainerDep, user: UserDep) -> ChatDetail:
    """The chat, with its summary (``null`` until the chat first idles with answers)."""
    async with c.store.transaction() as tx:
        chat = await owned_chat(tx, user, chat_id)
        summary = await tx.summaries.get_summary(chat_id)
    return ChatDetail.of(chat, summary)


class ChatChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)


@router.patch("/{chat_id}", response_model=ChatOut, dependencies=[Depends(json_body)])
async def rename_chat(chat_id: UUID, body: ChatChange, c: ContainerDep, user: UserDep) -> ChatOut:
    """Rename the chat: ``{"title": …}``, not blank, at most 200 characters."""
    async with c.store.transaction() as tx:
        await owned_chat(tx, user, chat_id)
        renamed = await tx.chats.rename_chat(chat_id, body.title.strip())
    if renamed is None:  # deleted meanwhile
        raise NotFound(f"no chat {chat_id}")
    return ChatOut.of(renamed)


@router.delete("/{chat_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_chat(chat_id: UUID, request: Request, c: ContainerDep, user: UserDep) -> Response:
    """Erase the chat: its messages, summary, file attachments (the files stay yours),
    bot links and its events; its open streams end. An answer still being made for it
    stops and is not stored. Audited as ``chat.deleted``."""
    async with c.store.transaction() as tx:
        await owned_chat(tx, user, chat_id)
        latest = await tx.chats.list_messages(chat_id, limit=UNANSWERED_SEEN)
        unanswered = [m.response_id for m in latest if m.status is Status.PENDING]
        messages = await tx.chats.delete_chat(chat_id)
        if messages is None:
            raise NotFound(f"no chat {chat_id}")
        await tx.users.add_audit(
            AuditEvent(
                action="chat.deleted",
                actor=user.name,
                actor_id=user.id,
                target=str(chat_id),
                ip=request.client.host if request.client else "",
                request_id=request.scope.get("state", {}).get("request_id", ""),
                detail={"messages": messages},
            )
        )
    try:
        # Answers under way stop at once (their question is gone: the cancel poll would
        # find that too, later); then its event log goes, and every stream on it ends.
        for response_id in unanswered:
            await c.bus.announce(f"{CANCEL_TOPIC}{response_id}")
        await c.bus.forget([chat_id])
    except ServiceUnavailable as error:  # erased all the same; the log ages out anyway
        log.warning("chat.erased_events_kept", chat_id=str(chat_id), detail=error.detail)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
