"""``WorkRepository`` on SQL: claims and statuses of questions, the outbox mark, and
idempotent results. The message path's statements come prebuilt from ``hot``."""

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.chats import add_message, refusal
from chatorch.adapters.sql.models import IdempotencyKeyRow, MessageRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import IdempotentResult, Message, Role, Status, utcnow
from chatorch.domain.errors import DuplicateKey, NotFound, Superseded
from chatorch.ports.work import CANCEL_MARK, WorkRepository

_PENDING_QUESTIONS = (
    select(hot.messages)
    .where(MessageRow.status == Status.PENDING.value)
    .where(MessageRow.role == Role.USER.value)
    .order_by(MessageRow.id)
)


class SqlWorkRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def claim(self, message_id: UUID, *, in_turn: bool = True) -> Message | None:
        # One statement, so two workers counting at once cannot both read the old value.
        statement = hot.CLAIM_IN_TURN if in_turn else hot.CLAIM
        row = (await self._scope.run(statement, {"b_id": message_id})).first()
        return None if row is None else hot.message_of(row)

    @translated
    async def set_status(self, message_id: UUID, status: Status) -> None:
        params = {"b_id": message_id, "b_status": status.value}
        if (await self._scope.run(hot.SET_STATUS, params)).scalar_one_or_none() is None:
            raise NotFound(f"message {message_id} does not exist")

    @translated
    async def settle(self, question_id: UUID, answer: Message, *, attempt: int) -> None:
        if self._scope.backend == "postgresql":  # one statement: no BEGIN/COMMIT needed
            values = hot.settle_params(question_id, answer, attempt)
            try:
                settled = (await self._scope.run(hot.SETTLE_WITH_ANSWER, values)).first()
            except sa_exc.IntegrityError as error:
                meaning = refusal(error, answer)
                if meaning is None:
                    raise
                raise meaning from error
            if settled is not None:
                return
        else:  # two statements, in the unit's transaction (SQLite always has one)
            params = {"b_id": question_id, "b_status": answer.status.value, "b_attempt": attempt}
            if (await self._scope.run(hot.SETTLE, params)).scalar_one_or_none() is not None:
                await add_message(self._scope, answer)
                return
        if (await self._scope.run(hot.GET_MESSAGE, {"b_id": question_id})).first() is None:
            raise NotFound(f"message {question_id} does not exist")
        raise Superseded(f"attempt {attempt} at {question_id} was taken over, or it ended")

    @translated
    async def request_cancel(self, message_id: UUID) -> bool:
        where = (
            (MessageRow.id == message_id)
            & (MessageRow.role == Role.USER.value)
            & (MessageRow.status == Status.PENDING.value)
        )
        connection = self._scope.connection
        meta = (await connection.execute(select(MessageRow.meta).where(where))).scalar()
        if meta is None:
            return False
        marked = {**meta, CANCEL_MARK: True}
        await connection.execute(update(MessageRow).where(where).values(meta=marked))
        return True

    @translated
    async def pending(self, *, limit: int, after: UUID | None = None) -> Sequence[Message]:
        query = _PENDING_QUESTIONS.limit(limit)
        if after is not None:
            query = query.where(MessageRow.id > after)
        return [hot.message_of(row) for row in await self._scope.connection.execute(query)]

    @translated
    async def mark_dispatched(self, message_ids: Sequence[UUID]) -> None:
        if not message_ids:
            return
        params = {"b_ids": list(message_ids), "b_at": utcnow()}
        if self._scope.backend == "postgresql":
            await self._scope.run(hot.MARK_DISPATCHED["postgresql"], params)
        else:
            await self._scope.connection.execute(hot.MARK_DISPATCHED["sqlite"], params)

    @translated
    async def undispatched(self, *, older_than: float, limit: int) -> Sequence[Message]:
        cutoff = utcnow() - timedelta(seconds=older_than)
        query = (
            _PENDING_QUESTIONS.where(MessageRow.dispatched_at.is_(None))
            .where(MessageRow.created_at <= cutoff)
            .limit(limit)
        )
        return [hot.message_of(row) for row in await self._scope.connection.execute(query)]

    @translated
    async def get_idempotent(self, user_id: UUID, key: str) -> IdempotentResult | None:
        row = await self._scope.get(IdempotencyKeyRow, (user_id, key))
        if row is None:
            return None
        return IdempotentResult(
            request_hash=row.request_hash, status_code=row.status_code, body=row.body
        )

    @translated
    async def put_idempotent(self, user_id: UUID, key: str, result: IdempotentResult) -> None:
        values = {
            "user_id": user_id,
            "key": key,
            "request_hash": result.request_hash,
            "status_code": result.status_code,
            "body": result.body,
            "created_at": utcnow(),
        }
        taken = not await self._scope.insert_unless_taken(
            IdempotencyKeyRow, values, ["user_id", "key"]
        )
        if taken:
            raise DuplicateKey(f"idempotency key {key!r} already holds a result")


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlWorkRepository) -> WorkRepository:
        return repository
