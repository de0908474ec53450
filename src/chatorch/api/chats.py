"""Chats: create, list and read the chats of the current user."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from chatorch.api import direct
from chatorch.api.deps import ContainerDep, UserDep, container_of, current_user
from chatorch.api.schemas import NO_NUL, ChatDetail, ChatOut, NewChat
from chatorch.pipeline.request import owned_chat

router = APIRouter(prefix="/v1/chats", tags=["chats"])
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
