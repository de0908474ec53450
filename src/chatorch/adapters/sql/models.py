"""Tables behind the SQL store, as SQLAlchemy 2 declarative models.

The hand-written Alembic migrations mirror these exactly; a test compares the two, so a
change here without a migration fails CI rather than production.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Constraint names derive from this, so migrations name them the same on every backend
# and a later migration can drop or alter them by a name it can predict.
# Questions not answered yet (Status.PENDING, Role.USER), in SQL both dialects read.
PENDING_QUESTION = "status = 'pending' AND role = 'user'"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone itself; SQLite stores bare text, so without this its
    datetimes would come back naive and fail to compare with ``utcnow()``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # chatorch only makes aware datetimes; naive ones are UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatRow(Base):
    __tablename__ = "chats"
    # Listing a user's chats newest first walks this index backwards.
    __table_args__ = (Index("ix_chats_owner_id_id", "owner_id", "id"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # One question and one answer per turn: a redelivered job cannot store a second.
        UniqueConstraint("response_id", "role", name="uq_messages_response_id_role"),
        Index("ix_messages_chat_id_response_id", "chat_id", "response_id"),
        Index("ix_messages_status_id", "status", "id"),
        # A claim asks whether an earlier question of the chat is unanswered: this
        # index holds only those, so the answer costs the same in the 300th turn as
        # in the first (hot.CLAIM_IN_TURN names the same condition, literally).
        Index(
            "ix_messages_pending_questions",
            "chat_id",
            "response_id",
            sqlite_where=text(PENDING_QUESTION),
            postgresql_where=text(PENDING_QUESTION),
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    chat_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("chats.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    response_id: Mapped[UUID] = mapped_column(Uuid)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # ``metadata`` is reserved on declarative classes, hence the attribute name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The outbox mark: when the work item reached the bus; NULL until it has.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FileRow(Base):
    __tablename__ = "files"
    __table_args__ = (
        # One owner holds the same bytes once: a second upload finds the first.
        Index("ix_files_owner_id_sha256", "owner_id", "sha256", unique=True),
        # Listing a user's files newest first walks this index backwards.
        Index("ix_files_owner_id_id", "owner_id", "id"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    # A file outlives the chat it was uploaded in; it stays its owner's.
    chat_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("chats.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(1024))
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # processing | ready | failed; rows older than the column were never read: processing.
    status: Mapped[str] = mapped_column(String(16), server_default=text("'processing'"))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it failed


class ChatFileRow(Base):
    """A file attached to a chat: its passages may be retrieved for the chat's answers."""

    __tablename__ = "chat_files"
    __table_args__ = (
        PrimaryKeyConstraint("chat_id", "file_id", name="pk_chat_files"),
        Index("ix_chat_files_file_id", "file_id"),  # deleting a file finds its links by it
    )

    chat_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("chats.id", ondelete="CASCADE"))
    file_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("files.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FileChunkRow(Base):
    """A passage of a file's text, with where it is: a PDF's page, the headings above it."""

    __tablename__ = "file_chunks"
    __table_args__ = (PrimaryKeyConstraint("file_id", "number", name="pk_file_chunks"),)

    file_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("files.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # from 0, in reading order
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)  # from 1
    heading: Mapped[str | None] = mapped_column(String(500), nullable=True)


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),)

    user_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(128))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("hash", name="uq_api_keys_hash"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the key: keys are long random strings, so a fast hash is enough.
    hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditRow(Base):
    """Append-only: nothing updates or deletes these rows (erasing a user keeps them)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_id", "action", "id"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    actor_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    target: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class SecretRow(Base):
    """A secret, encrypted before it reaches the database; only its name is in clear."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotRow(Base):
    """A bot; its credentials are encrypted before they reach the database."""

    __tablename__ = "bots"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str] = mapped_column(Text)  # Fernet ciphertext of a JSON object
    llm: Mapped[str | None] = mapped_column(String(500), nullable=True)
    tools: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    prompt: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a template's name
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotChatRow(Base):
    """A platform conversation of a bot and the one chat it is."""

    __tablename__ = "bot_chats"
    __table_args__ = (
        PrimaryKeyConstraint("bot_id", "conversation", name="pk_bot_chats"),
        # A chat is one conversation; also what deleting a chat finds its link by.
        UniqueConstraint("chat_id", name="uq_bot_chats_chat_id"),
    )

    bot_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("bots.id", ondelete="CASCADE"))
    conversation: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("chats.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotSendRow(Base):
    """A part of an answer a bot posted, so a retried answer never posts it twice."""

    __tablename__ = "bot_sends"
    __table_args__ = (
        PrimaryKeyConstraint("response_id", "part", name="pk_bot_sends"),
        Index("ix_bot_sends_bot_id", "bot_id"),  # deleting a bot finds its sends by it
    )

    response_id: Mapped[UUID] = mapped_column(Uuid)
    part: Mapped[int] = mapped_column(Integer)
    bot_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("bots.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotDeliveryRow(Base):
    """An answer stored for a platform conversation and not yet shown there: the next
    delivery of its question (or a restart) shows it."""

    __tablename__ = "bot_deliveries"
    __table_args__ = (
        PrimaryKeyConstraint("response_id", name="pk_bot_deliveries"),
        Index("ix_bot_deliveries_bot_id", "bot_id"),  # deleting a bot finds its debts by it
        Index("ix_bot_deliveries_message_id", "message_id"),  # so does deleting a chat
    )

    response_id: Mapped[UUID] = mapped_column(Uuid)
    bot_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("bots.id", ondelete="CASCADE"))
    message_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )  # the question
    chat_id: Mapped[UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromptRow(Base):
    """One version of a named prompt template; written once, never changed."""

    __tablename__ = "prompts"
    # Two writers racing on one name cannot both take a version number.
    __table_args__ = (PrimaryKeyConstraint("name", "version", name="pk_prompts"),)

    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatSummaryRow(Base):
    """A chat's summary, and the lease of whoever is writing the next one."""

    __tablename__ = "chat_summaries"
    __table_args__ = (PrimaryKeyConstraint("chat_id", name="pk_chat_summaries"),)

    chat_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("chats.id", ondelete="CASCADE"))
    # "text" in the table; not here, where it would hide SQLAlchemy's text().
    body: Mapped[str] = mapped_column("text", Text, server_default=text("''"))
    prompt: Mapped[str] = mapped_column(String(80), server_default=text("''"))  # summary@<v>
    # None until the first summary is written (a lease may come first).
    through_message_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChatThreadRow(Base):
    """Where a conversation an OpenAI client keeps stands: the chat and question its
    latest message became, by a fingerprint of the conversation (services/threads.py)."""

    __tablename__ = "chat_threads"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "fingerprint", name="pk_chat_threads"),)

    owner_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256, hex
    chat_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("chats.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
