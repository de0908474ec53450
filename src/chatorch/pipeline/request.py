"""RequestProcessor: the single entry for every channel.

Validate, persist the user message in one transaction, and only after it commits
put the work item on the bus — so a worker never sees a message the store lacks.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import structlog

from chatorch.domain.entities import Chat, IdempotentResult, Message, Role, User
from chatorch.domain.errors import (
    BusUnavailable,
    ContentTooLarge,
    DuplicateKey,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RateLimited,
)
from chatorch.domain.events import WorkItem
from chatorch.domain.ids import new_id
from chatorch.ports.bus import Bus
from chatorch.ports.ratelimit import RateLimiter
from chatorch.ports.store import Store, Transaction
from chatorch.services.metrics import MetricsCollector

log = structlog.get_logger(__name__)

MAX_TITLE_CHARS = 200


@dataclass(slots=True, frozen=True)
class Submission:
    message: Message
    replayed: bool  # True when an Idempotency-Key matched an earlier, identical request


class RequestProcessor:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        metrics: MetricsCollector,
        *,
        max_content_chars: int,
        limiter: RateLimiter | None = None,
        message_rate: str = "60/minute",
        mark: Callable[[UUID], None] | None = None,
    ) -> None:
        """``mark``: notes a message's work item as sent (``outbox.DispatchMarks``);
        none for an in-process bus, whose process answers what it stored and recovers it
        on restart (no relay runs)."""
        self._store = store
        self._bus = bus
        self._metrics = metrics
        self._max_chars = max_content_chars
        self._limiter = limiter
        self._message_rate = message_rate
        self._mark = mark

    async def create_chat(self, user: User, *, title: str = "") -> Chat:
        title = title.strip()
        refuse_nul(title, "title")
        if len(title) > MAX_TITLE_CHARS:
            raise InvalidInput(f"title has {len(title)} characters; the limit is {MAX_TITLE_CHARS}")
        chat = Chat(owner_id=user.id, title=title)
        async with self._store.transaction(atomic=False) as tx:  # one statement
            await tx.chats.add_chat(chat)
        return chat

    async def submit(
        self,
        user: User,
        chat_id: UUID,
        content: str,
        *,
        idempotency_key: str | None = None,
        metadata: dict[str, Any] | None = None,
        file_ids: Sequence[UUID] = (),
        new_chat: Chat | None = None,
        history: Sequence[Message] = (),
    ) -> Submission:
        """Accept a user message; ``metadata`` is stored with it (where a channel's
        message came from, so its answer finds the way back). ``file_ids``: the user's
        files to attach to the chat with it, whose passages its answers may cite.
        ``new_chat``: the chat ``chat_id`` names, created with the message, and
        ``history``: answered turns stored before it (a conversation a client brings
        along) — both in the message's transaction, so a refused message leaves neither.

        Raises:
            NotFound: the chat, or one of the files, is not the user's.
        """
        self._check_content(content)
        file_ids = list(dict.fromkeys(file_ids))
        request_hash = "" if idempotency_key is None else _hash(chat_id, content, file_ids)
        metadata = dict(metadata or {})
        if file_ids:
            metadata["file_ids"] = [str(file_id) for file_id in file_ids]
        try:
            return await self._accept(
                user,
                chat_id,
                content,
                idempotency_key,
                request_hash,
                metadata,
                file_ids,
                new_chat=new_chat,
                history=history,
            )
        except DuplicateKey:
            # A concurrent twin of this request stored the key first; ours rolled back.
            assert idempotency_key is not None
            async with self._store.transaction() as tx:
                earlier = await self._replay(tx, user, idempotency_key, request_hash)
            if earlier is None:
                raise IdempotencyConflict("this Idempotency-Key is in use; retry") from None
            return Submission(earlier, replayed=True)

    async def _accept(
        self,
        user: User,
        chat_id: UUID,
        content: str,
        key: str | None,
        request_hash: str,
        metadata: dict[str, Any],
        file_ids: Sequence[UUID],
        *,
        new_chat: Chat | None = None,
        history: Sequence[Message] = (),
    ) -> Submission:
        async with self._store.transaction() as tx:
            if new_chat is not None:
                await tx.chats.add_chat(new_chat)
            owned(
                await tx.chats.enter_chat(chat_id, user.id, title=title_from(content)),
                user,
                chat_id,
            )
            if key is not None:
                earlier = await self._replay(tx, user, key, request_hash)
                if earlier is not None:
                    return Submission(earlier, replayed=True)
            for file_id in file_ids:
                file = await tx.files.get_file(file_id)
                if file is None or file.owner_id != user.id:
                    raise NotFound(f"no file {file_id}")  # nothing attached, nothing stored
                await tx.files.attach_file(chat_id, file_id)
            await self._count_message(user)  # only now: a 404 or a replay is no message
            for turn in history:
                await tx.chats.add_message(turn)
            message = Message(
                chat_id=chat_id,
                role=Role.USER,
                content=content,
                response_id=new_id(),
                metadata=metadata,
            )
            await tx.chats.add_message(message)
            if key is not None:
                result = IdempotentResult(request_hash, 202, {"message_id": str(message.id)})
                await tx.work.put_idempotent(user.id, key, result)
        self._metrics.messages_accepted.inc()
        log.info("message.accepted", chat_id=str(chat_id), message_id=str(message.id))
        await dispatch(self._bus, message, mark=self._mark)
        return Submission(message, replayed=False)

    async def _count_message(self, user: User) -> None:
        if self._limiter is None:
            return
        decision = await self._limiter.hit(self._message_rate, f"messages:{user.id}")
        if not decision.allowed:
            raise RateLimited(
                f"more than {self._message_rate} messages; try again in "
                f"{decision.retry_after:.0f} s",
                retry_after=decision.retry_after,
            )

    def _check_content(self, content: str) -> None:
        if not content.strip():
            raise InvalidInput("content is empty; send the text of your message")
        if len(content) > self._max_chars:
            raise ContentTooLarge(len(content), self._max_chars)
        refuse_nul(content, "content")

    @staticmethod
    async def _replay(tx: Transaction, user: User, key: str, request_hash: str) -> Message | None:
        earlier = await tx.work.get_idempotent(user.id, key)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was used with a different request; use a new key"
            )
        message = await tx.chats.get_message(UUID(earlier.body["message_id"]))
        if message is None:  # the message was erased since: the key is free again
            return None
        return message


async def dispatch(bus: Bus, message: Message, *, mark: Callable[[UUID], None] | None) -> bool:
    """Put a stored message's work item on the bus and note it sent (the outbox step).

    A bus that is down leaves the message stored and unmarked, for the outbox relay to
    send once the bus is back: the client already has its 202, and nothing is lost.
    The mark is written later, in batches (``mark``): a message whose mark is lost is
    sent again by the relay, and the bus drops the duplicate by its message id.
    """
    try:
        await bus.enqueue(WorkItem(message.id, message.chat_id, message.response_id))
    except BusUnavailable as error:
        log.warning("outbox.deferred", message_id=str(message.id), reason=error.detail)
        return False
    if mark is not None:
        mark(message.id)
    return True


async def owned_chat(tx: Transaction, user: User, chat_id: UUID) -> Chat:
    return owned(await tx.chats.get_chat(chat_id), user, chat_id)


def owned(chat: Chat | None, user: User, chat_id: UUID) -> Chat:
    """The chat if ``user`` owns it; a chat of someone else's is as absent as none."""
    if chat is None or chat.owner_id != user.id:
        raise NotFound(f"no chat {chat_id}")
    return chat


def refuse_nul(text: str, field: str) -> None:
    """NUL is no text: PostgreSQL cannot store it and SQLite would; one rule for both."""
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character (\\u0000); remove it")


def title_from(content: str, *, limit: int = 60) -> str:
    """A chat's title from its first message: the first line, shortened at a word."""
    line = " ".join(content.strip().splitlines()[0].split())
    if len(line) <= limit:
        return line
    return line[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _hash(chat_id: UUID, content: str, file_ids: Sequence[UUID] = ()) -> str:
    fields: dict[str, Any] = {"chat_id": str(chat_id), "content": content}
    if file_ids:  # a request without files hashes as it always did
        fields["file_ids"] = [str(file_id) for file_id in file_ids]
    body = orjson.dumps(fields)
    return hashlib.sha256(body).hexdigest()
