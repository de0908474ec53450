"""Administration: what the deployment is doing right now."""

from collections import defaultdict
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from chatorch.api.deps import ContainerDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ConnectionOut(BaseModel):
    id: UUID
    chat_id: UUID
    user_id: UUID
    opened_at: datetime


class Connections(BaseModel):
    total: int
    pods: dict[str, list[ConnectionOut]]


@router.get("/connections", response_model=Connections)
async def connections(c: ContainerDep) -> Connections:
    """Live event streams per pod, as the session registry knows them."""
    by_pod: dict[str, list[ConnectionOut]] = defaultdict(list)
    found = await c.registry.connections()
    for conn in found:
        by_pod[conn.pod_id].append(
            ConnectionOut(
                id=conn.id, chat_id=conn.chat_id, user_id=conn.user_id, opened_at=conn.opened_at
            )
        )
    return Connections(total=len(found), pods=dict(by_pod))
