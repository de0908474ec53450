"""Messages: submit one for an answer (202), read a chat's history."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from chatorch.api import direct
from chatorch.api.deps import ContainerDep, UserDep, container_of, current_user
from chatorch.api.schemas import Accepted, MessageOut, NewMessage
from chatorch.pipeline.request import owned_chat

router = APIRouter(prefix="/v1/chats/{chat_id}/messages", tags=["messages"])
direct_router = direct.router("/v1/chats/{chat_id}/messages", tags=["messages"])

MAX_KEY_CHARS = 255


class ChatPath(BaseModel):
    chat_id: UUID


class SubmitHeaders(BaseModel):
    idempotency_key: str | None = Field(
        None,
        alias="idempotency-key",
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="a repeat with the same key returns the first answer, not a second",
    )


@direct_router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    openapi_extra=direct.documented(body=NewMessage, path=ChatPath, header=SubmitHeaders),
)
async def submit(request: Request) -> Response:
    """Accept a message; its answer streams on ``events_url``."""
    user = await current_user(request)
    chat_id = direct.parameters(request, "path", ChatPath).chat_id
    key = direct.parameters(request, "header", SubmitHeaders).idempotency_key
    body = direct.required(await direct.body(request, NewMessage))
    submission = await container_of(request).processor.submit(
        user, chat_id, body.content, idempotency_key=key, file_ids=body.file_ids
    )
    message = submission.message
    events_url = f"/v1/chats/{chat_id}/events?response_id={message.response_id}"
    headers = {"Location": events_url}
    if submission.replayed:
        headers["Idempotent-Replayed"] = "true"
    accepted = Accepted(
        message=MessageOut.of(message), response_id=message.response_id, events_url=events_url
    )
    return direct.json_response(accepted, status.HTTP_202_ACCEPTED, headers)


@router.get("", response_model=list[MessageOut])
async def history(
    chat_id: UUID,
    c: ContainerDep,
    user: UserDep,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="only the latest n")] = None,
) -> list[MessageOut]:
    """The chat's messages, oldest first: each question followed by its answer."""
    async with c.store.transaction(durable=False, atomic=False) as tx:
        await owned_chat(tx, user, chat_id)
        messages = await tx.chats.list_messages(chat_id, limit=limit)
    return [MessageOut.of(m) for m in messages]
