"""Request and response bodies of the public API (ARCHITECTURE §5)."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from chatorch.domain.entities import Chat, ChatSummary, Message

# Text without NUL, which PostgreSQL cannot store; in the schema, so clients and fuzzers
# know before they send it. ``NOT_BLANK`` also wants one character that is not space.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


class NewChat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200, pattern=NO_NUL)


class ChatOut(BaseModel):
    id: UUID
    title: str
    owner_id: UUID
    created_at: datetime

    @classmethod
    def of(cls, chat: Chat) -> "ChatOut":
        return cls(id=chat.id, title=chat.title, owner_id=chat.owner_id, created_at=chat.created_at)


class SummaryOut(BaseModel):
    text: str
    prompt: str = Field(description="the summary prompt's name and version: summary@<n>")
    through_message_id: UUID = Field(description="the last message it sums up")
    created_at: datetime


class ChatDetail(ChatOut):
    summary: SummaryOut | None

    @classmethod
    def of(cls, chat: Chat, summary: ChatSummary | None = None) -> "ChatDetail":
        written = None
        if summary is not None:
            written = SummaryOut(
                text=summary.text,
                prompt=summary.prompt,
                through_message_id=summary.through_message_id,
                created_at=summary.created_at,
            )
        return cls(**ChatOut.of(chat).model_dump(), summary=written)


MAX_FILES_PER_MESSAGE = 20


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(
        description="The message text, not blank; limited by CHATORCH_MAX_CONTENT_CHARS.",
        # Documented here, checked by the RequestProcessor (with a clearer message).
        json_schema_extra={"minLength": 1, "pattern": NOT_BLANK},
    )
    file_ids: list[UUID] = Field(
        default_factory=list,
        max_length=MAX_FILES_PER_MESSAGE,
        description="Your files (POST /v1/files) to attach to the chat: every answer in it"
        " may then cite their passages (metadata.citations).",
    )


class MessageOut(BaseModel):
    id: UUID
    chat_id: UUID
    role: Literal["user", "assistant"]
    content: str
    status: Literal["pending", "complete", "failed"]
    response_id: UUID
    created_at: datetime
    metadata: dict[str, Any]

    @classmethod
    def of(cls, message: Message) -> "MessageOut":
        return cls(
            id=message.id,
            chat_id=message.chat_id,
            role=message.role.value,
            content=message.content,
            status=message.status.value,
            response_id=message.response_id,
            created_at=message.created_at,
            metadata=message.metadata,
        )


class Accepted(BaseModel):
    message: MessageOut
    response_id: UUID
    events_url: str = Field(description="SSE stream of this response, from its first event.")


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
