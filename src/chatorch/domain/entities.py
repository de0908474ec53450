"""The things chatorch stores: users, chats, messages and file metadata."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from chatorch.domain.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class Status(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(slots=True)
class User:
    name: str
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Chat:
    owner_id: UUID
    title: str = ""
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Message:
    """One turn's half: a user message asks for ``response_id``, the answer carries it.

    A turn holds at most one user and one assistant message (the store enforces it),
    which is what makes "one stored answer, never two" hold under redelivery.
    """

    chat_id: UUID
    role: Role
    content: str
    response_id: UUID
    status: Status = Status.PENDING
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


@dataclass(slots=True)
class FileMeta:
    owner_id: UUID
    name: str
    media_type: str
    size: int
    sha256: str
    chat_id: UUID | None = None
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True, frozen=True)
class IdempotentResult:
    """What a POST answered the first time, kept under its ``Idempotency-Key``."""

    request_hash: str
    status_code: int
    body: dict[str, Any]


@dataclass(slots=True, frozen=True)
class Connection:
    """A live event stream: which pod holds it, for which chat and user."""

    chat_id: UUID
    user_id: UUID
    pod_id: str
    id: UUID = field(default_factory=new_id)
    opened_at: datetime = field(default_factory=utcnow)
