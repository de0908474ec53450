"""Responses: stop an answer while it is made (docs/streaming.md, "Cancel")."""

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from chatorch.api.deps import ContainerDep, UserDep
from chatorch.pipeline.cancel import cancel_answer

router = APIRouter(prefix="/v1/chats/{chat_id}/responses", tags=["messages"])


class CancelAccepted(BaseModel):
    response_id: UUID
    state: Literal["cancelling", "finished"] = Field(
        description="cancelling: the answer stops within a second and its stream ends with"
        " done (finish_reason cancelled); finished: it had ended already, nothing changed"
    )


@router.post(
    "/{response_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=CancelAccepted
)
async def cancel(
    chat_id: UUID, response_id: UUID, c: ContainerDep, user: UserDep
) -> CancelAccepted:
    """Stop an answer: its partial text is stored, complete, ``finish_reason: cancelled``."""
    stopping = await cancel_answer(c.store, c.bus, user, chat_id, response_id)
    return CancelAccepted(response_id=response_id, state="cancelling" if stopping else "finished")
