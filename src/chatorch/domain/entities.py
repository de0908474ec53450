"""The things chatorch stores: users, chats, messages, files and their chunks, and bots."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
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


@dataclass(slots=True, frozen=True)
class ChatSummary:
    """What a chat said up to ``through_message_id``, written by the model with the
    ``summary`` prompt (``prompt``: its ``summary@<version>``)."""

    chat_id: UUID
    text: str
    prompt: str
    through_message_id: UUID
    created_at: datetime = field(default_factory=utcnow)


class FileStatus(StrEnum):
    """Where an uploaded file is: its text being read, readable in chunks, or unreadable."""

    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@dataclass(slots=True)
class FileMeta:
    """An uploaded file; its bytes live in a blob store, its text in ``FileChunk``s.

    ``error`` says why a ``failed`` file could not be read; None otherwise.
    """

    owner_id: UUID
    name: str
    media_type: str
    size: int
    sha256: str
    chat_id: UUID | None = None
    status: FileStatus = FileStatus.PROCESSING
    error: str | None = None
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True, frozen=True)
class FileChunk:
    """A passage of a file's text, numbered from 0 in reading order, with where it is:
    the PDF page (from 1) and the headings it sits under, when the format has them."""

    file_id: UUID
    number: int
    text: str
    page: int | None = None
    heading: str | None = None


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


class AccessRole(StrEnum):
    """What a caller may do: ``user`` their own chats, ``operator`` also operations
    views, ``admin`` everything, including keys, audit and deleting users."""

    USER = "user"
    OPERATOR = "operator"
    ADMIN = "admin"

    def at_least(self, other: "AccessRole") -> bool:
        order = (AccessRole.USER, AccessRole.OPERATOR, AccessRole.ADMIN)
        return order.index(self) >= order.index(other)


@dataclass(slots=True)
class ApiKey:
    """A stored API key: only its SHA-256 hash and a short prefix to recognise it."""

    user_id: UUID
    name: str
    prefix: str
    hash: str
    role: AccessRole = AccessRole.USER
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True, frozen=True)
class Principal:
    """Who is asking: a user, with the role their credential grants, and how they proved it."""

    user: User
    role: AccessRole
    via: str  # "local", "api_key:<prefix>" or "jwt:<issuer>"


@dataclass(slots=True)
class AuditEvent:
    """An append-only record of who did what, when, from where."""

    action: str
    actor: str
    actor_id: UUID | None = None
    target: str = ""
    ip: str = ""
    request_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    id: UUID = field(default_factory=new_id)
    at: datetime = field(default_factory=utcnow)


class Platform(StrEnum):
    """A messaging platform a bot answers on."""

    TELEGRAM = "telegram"
    SLACK = "slack"
    DISCORD = "discord"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"


@dataclass(slots=True)
class Bot:
    """One bot on one platform. Its credentials are not here: they are stored encrypted
    beside it and decrypted only when a channel needs them (``services.bots``).

    ``llm`` is a fallback chain in ``CHATORCH_LLM``'s syntax and ``tools`` a list of tool
    names; None means the server's. ``prompt`` names the template of its system prompt.
    """

    owner_id: UUID  # the user who created it
    platform: Platform
    name: str
    llm: str | None = None
    tools: list[str] | None = None
    prompt: str | None = None  # the name of its system prompt template; None: "system"
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True, frozen=True)
class PromptVersion:
    """One version of a named prompt template. Version 1 of a built-in name is chatorch's
    own text, stored nowhere (``created_at`` None); stored versions start at 2."""

    name: str
    version: int
    template: str
    created_at: datetime | None = None


class Keep(Enum):
    """An update's "leave it as it is", where None is a value of its own (a bot's
    ``llm=None`` means the server's chain)."""

    KEEP = "keep"


KEEP = Keep.KEEP
