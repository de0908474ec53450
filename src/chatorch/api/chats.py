"""Chats: create, list and read the chats of the current user."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from chatorch.api.deps import ContainerDep, UserDep, json_body
from chatorch.api.schemas import ChatOut, NewChat
from chatorch.pipeline.request import owned_chat

router = APIRouter(prefix="/v1/chats", tags=["chats"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatOut,
    dependencies=[Depends(json_body)],
)
async def create_chat(
    c: ContainerDep, user: UserDep, response: Response, body: NewChat | None = None
) -> ChatOut:
    """Start a chat; the body (``{"title": …}``) may be left out."""
    chat = await c.processor.create_chat(user, title=body.title if body else "")
    response.headers["Location"] = f"/v1/chats/{chat.id}"
    return ChatOut.of(chat)


@router.get("", response_model=list[ChatOut])
async def list_chats(
    c: ContainerDep,
    user: UserDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[UUID | None, Query(description="only chats older than this id")] = None,
) -> list[ChatOut]:
    """The user's chats, newest first; a full page links the next in ``Link``."""
    async with c.store.transaction() as tx:
        chats = await tx.list_chats(user.id, limit=limit, before=before)
    if len(chats) == limit:
        response.headers["Link"] = f'</v1/chats?limit={limit}&before={chats[-1].id}>; rel="next"'
    return [ChatOut.of(chat) for chat in chats]


@router.get("/{chat_id}", response_model=ChatOut)
async def get_chat(chat_id: UUID, c: ContainerDep, user: UserDep) -> ChatOut:
    async with c.store.transaction() as tx:
        return ChatOut.of(await owned_chat(tx, user, chat_id))
