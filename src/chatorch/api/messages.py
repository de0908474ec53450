"""Messages: submit one for an answer (202), read a chat's history."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response, status

from chatorch.api.deps import ContainerDep, UserDep, json_body
from chatorch.api.schemas import Accepted, MessageOut, NewMessage
from chatorch.domain.errors import InvalidInput
from chatorch.pipeline.request import owned_chat

router = APIRouter(prefix="/v1/chats/{chat_id}/messages", tags=["messages"])

MAX_KEY_CHARS = 255


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    dependencies=[Depends(json_body)],
)
async def submit(
    chat_id: UUID,
    body: NewMessage,
    c: ContainerDep,
    user: UserDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Accepted:
    """Accept a message; its answer streams on ``events_url``."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise InvalidInput(f"Idempotency-Key must have 1 to {MAX_KEY_CHARS} characters")
    submission = await c.processor.submit(
        user, chat_id, body.content, idempotency_key=idempotency_key
    )
    message = submission.message
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    events_url = f"/v1/chats/{chat_id}/events?response_id={message.response_id}"
    response.headers["Location"] = events_url
    return Accepted(
        message=MessageOut.of(message), response_id=message.response_id, events_url=events_url
    )


@router.get("", response_model=list[MessageOut])
async def history(
    chat_id: UUID,
    c: ContainerDep,
    user: UserDep,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="only the latest n")] = None,
) -> list[MessageOut]:
    """The chat's messages, oldest first: each question followed by its answer."""
    async with c.store.transaction() as tx:
        await owned_chat(tx, user, chat_id)
        messages = await tx.list_messages(chat_id, limit=limit)
    return [MessageOut.of(m) for m in messages]
