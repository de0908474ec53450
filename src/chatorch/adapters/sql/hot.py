"""The statements of the message path, built once, run on the transaction's connection.

Every answer runs eight statements. Built per call through the ORM, each paid
for coercing its expressions, computing its cache key and loading ORM objects — more
CPU than executing it (docs/performance.md). These are built once, with bound
parameters, and return plain rows; the store turns rows into entities. On SQLite
they run on the driver itself, compiled once (``prepared``, ADR 0012).
"""

from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Row,
    Table,
    Uuid,
    any_,
    bindparam,
    case,
    exists,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from chatorch.adapters.sql.models import ChatFileRow, ChatRow, ChatSummaryRow, FileRow, MessageRow
from chatorch.domain.entities import Chat, Message, Role, Status

chats = cast(Table, ChatRow.__table__)
messages = cast(Table, MessageRow.__table__)
files = cast(Table, FileRow.__table__)
chat_files = cast(Table, ChatFileRow.__table__)
summaries = cast(Table, ChatSummaryRow.__table__)
m = messages.c

GET_CHAT = select(chats).where(chats.c.id == bindparam("b_id"))
ADD_CHAT = insert(chats)
ENTER_CHAT = (
    update(chats)
    .where((chats.c.id == bindparam("b_id")) & (chats.c.owner_id == bindparam("b_owner")))
    .values(title=case((chats.c.title == "", bindparam("b_title")), else_=chats.c.title))
    .returning(*chats.c)
)

GET_MESSAGE = select(messages).where(m.id == bindparam("b_id"))
# A chat with the messages of one of its turns; no message columns when it has none.
CHAT_TURN = (
    select(
        chats.c.owner_id.label("chat_owner_id"),
        chats.c.title.label("chat_title"),
        chats.c.created_at.label("chat_created_at"),
        messages,
    )
    .select_from(
        chats.outerjoin(
            messages, (m.chat_id == chats.c.id) & (m.response_id == bindparam("b_response"))
        )
    )
    .where(chats.c.id == bindparam("b_chat"))
    .order_by(m.created_at)
)
# Conversation order, newest first (readers reverse it): turns by response_id (UUIDv7,
# so by time), then question before answer within a turn; id breaks a tie of equal
# timestamps the same way.
CONVERSATION_DESC = (m.response_id.desc(), m.created_at.desc(), m.id.desc())
# What a prompt holds of the chat's earlier turns: who said what, questions and the
# answers that completed (a failed answer's partial text would mislead). Their ids,
# times and metadata were most of the read, for 50 messages an answer.
HISTORY_BEFORE = (
    select(m.role, m.content)
    .where(
        m.chat_id == bindparam("b_chat"),
        m.response_id < bindparam("b_response"),
        or_(m.role == Role.USER.value, m.status == Status.COMPLETE.value),
    )
    .order_by(*CONVERSATION_DESC)
    .limit(bindparam("b_limit"))
)
CLAIM = (
    update(messages)
    .where((m.id == bindparam("b_id")) & (m.status == Status.PENDING.value))
    .values(attempts=m.attempts + 1)
    .returning(*m)
)
_earlier = messages.alias("earlier")
# Literal values, not bound ones: the planners then see the partial index's condition
# (models.PENDING_QUESTION) and read only the chat's unanswered questions.
CLAIM_IN_TURN = CLAIM.where(
    ~exists().where(
        _earlier.c.chat_id == m.chat_id,
        _earlier.c.response_id < m.response_id,
        _earlier.c.status == literal_column(f"'{Status.PENDING.value}'"),
        _earlier.c.role == literal_column(f"'{Role.USER.value}'"),
    )
)
# The files attached to a chat, in the order they were: read for every answer.
CHAT_FILES = (
    select(files)
    .join(chat_files, chat_files.c.file_id == files.c.id)
    .where(chat_files.c.chat_id == bindparam("b_chat"))
    .order_by(chat_files.c.created_at, files.c.id)
)
# A long chat's summary: read for every answer whose earlier turns do not all fit.
GET_SUMMARY = select(summaries).where(summaries.c.chat_id == bindparam("b_chat"))
# One statement for a batch of marks: PostgreSQL binds the ids as one array; SQLite's
# list is expanded by SQLAlchemy (not prepared once: its length varies).
MARK_DISPATCHED = {
    "postgresql": update(messages)
    .where(m.id == any_(bindparam("b_ids", type_=ARRAY(Uuid))))
    .values(dispatched_at=bindparam("b_at")),
    "sqlite": update(messages)
    .where(m.id.in_(bindparam("b_ids", expanding=True)))
    .values(dispatched_at=bindparam("b_at")),
}
SET_STATUS = (
    update(messages)
    .where(m.id == bindparam("b_id"))
    .values(status=bindparam("b_status"))
    .returning(m.id)
)
# Only the latest claim settles a question (its attempt count is the claim's).
SETTLE = SET_STATUS.where(
    (m.status == Status.PENDING.value) & (m.attempts == bindparam("b_attempt"))
)
# PostgreSQL: settle the question and add its answer in one statement, so neither is
# kept without the other and no BEGIN/COMMIT is needed. No row: not settled (nothing
# added). A taken turn or an erased chat fails the statement, the settling with it.
_settled = SETTLE.cte("settled")
SETTLE_WITH_ANSWER = (
    insert(messages)
    .from_select(
        [column.name for column in m],
        select(*(bindparam(f"a_{column.name}", type_=column.type) for column in m)).select_from(
            _settled
        ),
    )
    .returning(m.id)
)


def _insert_message(dialect_insert: Any) -> Insert:
    """INSERT … ON CONFLICT (response_id, role) DO NOTHING RETURNING id."""
    statement: Insert = dialect_insert(messages).on_conflict_do_nothing(
        index_elements=["response_id", "role"]
    )
    return statement.returning(m.id)


ADD_MESSAGE = {"sqlite": _insert_message(sqlite_insert), "postgresql": _insert_message(pg_insert)}


def settle_params(question_id: UUID, answer: Message, attempt: int) -> dict[str, Any]:
    """``SETTLE_WITH_ANSWER``'s parameters: the question's attempt, the answer's columns."""
    settle = {"b_id": question_id, "b_status": answer.status.value, "b_attempt": attempt}
    return settle | {f"a_{name}": value for name, value in message_params(answer).items()}


def chat_of(row: Row[Any]) -> Chat:
    return Chat(id=row.id, owner_id=row.owner_id, title=row.title, created_at=row.created_at)


def message_of(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        chat_id=row.chat_id,
        role=Role(row.role),
        content=row.content,
        response_id=row.response_id,
        status=Status(row.status),
        created_at=row.created_at,
        metadata=row.metadata,
        attempts=row.attempts,
    )


def chat_params(chat: Chat) -> dict[str, Any]:
    """A chat as ``chats`` columns, for ``ADD_CHAT``."""
    return {
        "id": chat.id,
        "owner_id": chat.owner_id,
        "title": chat.title,
        "created_at": chat.created_at,
    }


def message_params(message: Message) -> dict[str, Any]:
    """A message as ``messages`` columns (the column ``metadata``, not the attribute)."""
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "role": message.role.value,
        "content": message.content,
        "response_id": message.response_id,
        "status": message.status.value,
        "created_at": message.created_at,
        "metadata": message.metadata,
        "attempts": message.attempts,
        "dispatched_at": None,
    }
