"""The ``Store`` port on SQLAlchemy 2: PostgreSQL (asyncpg, the async engine) or SQLite
(``sqlite3`` on the loop's thread, the synchronous engine behind ``inline_sqlite``).

Every method runs inside one transaction that ``SqlStore.transaction()`` commits or
rolls back; nothing else commits. Driver exceptions never leave this module: losing the
database becomes ``StoreUnavailable``, and the two uniqueness rules callers rely on become
``DuplicateAnswer`` and ``DuplicateKey``.
"""

import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, NoReturn, ParamSpec, TypeVar
from uuid import UUID

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import orjson
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    create_engine,
    delete,
    event,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.group_commit import GroupCommit
from chatorch.adapters.sql.inline_sqlite import (
    SESSION_OPTIONS,
    InlineConnection,
    InlineEngine,
    InlineSession,
)
from chatorch.adapters.sql.models import (
    ApiKeyRow,
    AuditRow,
    Base,
    FileRow,
    IdempotencyKeyRow,
    MessageRow,
    SecretRow,
    UserRow,
)
from chatorch.adapters.sql.prepared import Rows, Statement
from chatorch.domain.entities import (
    AccessRole,
    ApiKey,
    AuditEvent,
    Chat,
    FileMeta,
    IdempotentResult,
    Message,
    Role,
    Status,
    User,
    utcnow,
)
from chatorch.domain.errors import DuplicateAnswer, DuplicateKey, NotFound, StoreUnavailable
from chatorch.ports.store import Store, Transaction

log = logging.getLogger(__name__)

Backend = Literal["sqlite", "postgresql"]
P = ParamSpec("P")
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5_000
SQLITE_POOL_WAIT = 30.0  # s a transaction waits for its turn at the one connection
# Errors that mean "the database did not answer", whichever layer raised them: sockets
# and timeouts (OSError covers both), SQLAlchemy's wrappers, pool exhaustion, and
# asyncpg's own connection errors when they slip past SQLAlchemy's translation.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def _unavailable(error: BaseException, backend: Backend) -> StoreUnavailable | None:
    """The ``StoreUnavailable`` a lost or unreachable database means, whatever the
    driver said it with; None for any other error, which goes on as it is."""
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailable(f"{backend} database unavailable: {_brief(error)}")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable(f"{backend} connection lost: {_brief(error)}")
    return None


def _unusable(error: BaseException, backend: Backend) -> StoreUnavailable | None:
    """While only connecting, any failure means no usable database: wrong credentials, a
    missing database or a server still starting are all "unavailable" to the caller.
    """
    found = _unavailable(error, backend)
    if found is None and isinstance(error, sa_exc.SQLAlchemyError):
        return StoreUnavailable(f"{backend} database unusable: {_brief(error)}")
    return found


def _brief(error: BaseException) -> str:
    """The first line of the driver's message: enough to diagnose, no SQL or parameters."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        error = error.orig
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _translated(
    method: Callable[Concatenate["SqlTransaction", P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate["SqlTransaction", P], Coroutine[Any, Any, T]]:
    """A ``SqlTransaction`` method whose lost database is ``StoreUnavailable``.

    Plain ``try``, not a context manager: this wraps every statement of every answer.
    """

    @functools.wraps(method)
    async def wrapper(self: "SqlTransaction", /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except Exception as error:
            unavailable = _unavailable(error, self._backend)
            if unavailable is None:
                raise
            raise unavailable from error

    return wrapper


# ---- rows <-> entities --------------------------------------------------------------


def _api_key_row(key: ApiKey) -> ApiKeyRow:
    return ApiKeyRow(
        id=key.id,
        user_id=key.user_id,
        name=key.name,
        prefix=key.prefix,
        hash=key.hash,
        role=key.role.value,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        hash=row.hash,
        role=AccessRole(row.role),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _audit(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        action=row.action,
        actor=row.actor,
        actor_id=row.actor_id,
        target=row.target,
        ip=row.ip,
        request_id=row.request_id,
        detail=row.detail,
    )


def _user(row: UserRow) -> User:
    return User(id=row.id, name=row.name, created_at=row.created_at)


def _chat_values(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "owner_id": chat.owner_id,
        "title": chat.title,
        "created_at": chat.created_at,
    }


def _file(row: FileRow) -> FileMeta:
    return FileMeta(
        id=row.id,
        owner_id=row.owner_id,
        chat_id=row.chat_id,
        name=row.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def _file_values(meta: FileMeta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "owner_id": meta.owner_id,
        "chat_id": meta.chat_id,
        "name": meta.name,
        "media_type": meta.media_type,
        "size": meta.size,
        "sha256": meta.sha256,
        "created_at": meta.created_at,
    }


class SqlTransaction:
    """One unit of work on a connection; ``SqlStore.transaction()`` ends it."""

    def __init__(self, connection: AsyncConnection | InlineConnection, backend: Backend) -> None:
        self._connection = connection  # runs the prebuilt statements (hot.py)
        self._backend = backend
        self._orm: AsyncSession | InlineSession | None = None

    @property
    def _session(self) -> AsyncSession | InlineSession:
        """An ORM session on this transaction's connection, made when first needed.

        The message path runs prebuilt statements on the connection alone: making a
        session it does not use cost as much as one of its statements.
        """
        if self._orm is None:
            if isinstance(self._connection, InlineConnection):
                self._orm = self._connection.session()
            else:
                self._orm = AsyncSession(bind=self._connection, **SESSION_OPTIONS)
        return self._orm

    async def _flush(self) -> None:
        """Write what the session holds, before the transaction commits."""
        if self._orm is not None:
            await self._orm.flush()

    async def _close(self) -> None:
        if self._orm is not None:
            await self._orm.close()

    async def _run(self, statement: Statement, params: dict[str, Any]) -> Rows | CursorResult[Any]:
        """One of ``hot``'s statements: on SQLite, straight on the driver (``prepared``)."""
        if isinstance(self._connection, InlineConnection):
            return await self._connection.run(statement, params)
        return await self._connection.execute(statement, params)

    async def _insert_unless_taken(
        self, model: type[Base], values: dict[str, Any], unique: Sequence[str]
    ) -> bool:
        """``INSERT … ON CONFLICT (unique) DO NOTHING``; False when the slot was taken.

        A conflict skips the row instead of raising, so the transaction stays usable on
        PostgreSQL (where a failed statement aborts it) and needs no savepoint; a racing
        writer's uncommitted row makes this wait for its outcome rather than fail.
        """
        insert = pg_insert if self._backend == "postgresql" else sqlite_insert
        statement = (
            insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=unique)
            .returning(*model.__table__.primary_key)
        )
        return (await self._session.execute(statement)).first() is not None

    async def _latest_messages(
        self, condition: ColumnElement[bool], limit: int | None
    ) -> Sequence[Message]:
        """The last ``limit`` messages matching ``condition``, in conversation order."""
        query = select(hot.messages).where(condition)
        rows = await self._connection.execute(query.order_by(*hot.CONVERSATION_DESC).limit(limit))
        return [hot.message_of(row) for row in reversed(rows.all())]

    async def _get(self, model: type[T], key: Any) -> T | None:
        """Load by primary key, re-reading the row rather than trusting the identity map."""
        return await self._session.get(model, key, populate_existing=True)

    @_translated
    async def ensure_user(self, name: str) -> User:
        # Read first so the common case never writes (a write locks a SQLite database).
        query = select(UserRow).where(UserRow.name == name)
        row = await self._session.scalar(query)
        if row is None:
            # Two first requests may race: ON CONFLICT lets the loser read the winner's row.
            user = User(name=name)
            values = {"id": user.id, "name": user.name, "created_at": user.created_at}
            await self._insert_unless_taken(UserRow, values, ["name"])
            row = (await self._session.scalars(query)).one()
        return _user(row)

    @_translated
    async def get_user(self, user_id: UUID) -> User | None:
        row = await self._get(UserRow, user_id)
        return None if row is None else _user(row)

    @_translated
    async def delete_user(self, user_id: UUID) -> bool:
        # Chats, their messages, files and keys go by ON DELETE CASCADE, in one statement.
        result = await self._session.execute(delete(UserRow).where(UserRow.id == user_id))
        return bool(getattr(result, "rowcount", 0))

    @_translated
    async def add_chat(self, chat: Chat) -> None:
        # A plain INSERT: the session's unit of work (add, then flush at commit) cost as
        # much as the rest of the request.
        await self._run(hot.ADD_CHAT, _chat_values(chat))

    @_translated
    async def get_chat(self, chat_id: UUID) -> Chat | None:
        row = (await self._run(hot.GET_CHAT, {"b_id": chat_id})).first()
        return None if row is None else hot.chat_of(row)

    @_translated
    async def list_chats(
        self, owner_id: UUID, *, limit: int, before: UUID | None = None
    ) -> Sequence[Chat]:
        # Ids are UUIDv7, so ordering by id is ordering by creation time.
        chats = hot.chats.c
        query = select(hot.chats).where(chats.owner_id == owner_id)
        if before is not None:
            query = query.where(chats.id < before)
        rows = await self._connection.execute(query.order_by(chats.id.desc()).limit(limit))
        return [hot.chat_of(row) for row in rows]

    @_translated
    async def add_message(self, message: Message) -> None:
        statement = hot.ADD_MESSAGE[self._backend]
        if (await self._run(statement, hot.message_params(message))).first() is None:
            raise DuplicateAnswer(
                f"turn {message.response_id} already has a {message.role.value} message"
            )

    @_translated
    async def get_message(self, message_id: UUID) -> Message | None:
        row = (await self._run(hot.GET_MESSAGE, {"b_id": message_id})).first()
        return None if row is None else hot.message_of(row)

    @_translated
    async def enter_chat(self, chat_id: UUID, owner_id: UUID, *, title: str) -> Chat | None:
        params = {"b_id": chat_id, "b_owner": owner_id, "b_title": title}
        row = (await self._run(hot.ENTER_CHAT, params)).first()
        return None if row is None else hot.chat_of(row)

    @_translated
    async def chat_turn(
        self, chat_id: UUID, response_id: UUID
    ) -> tuple[Chat | None, Sequence[Message]]:
        rows = (
            await self._run(hot.CHAT_TURN, {"b_chat": chat_id, "b_response": response_id})
        ).all()
        if not rows:
            return None, []
        first = rows[0]
        chat = Chat(
            id=chat_id,
            owner_id=first.chat_owner_id,
            title=first.chat_title,
            created_at=first.chat_created_at,
        )
        return chat, [hot.message_of(row) for row in rows if row.id is not None]

    @_translated
    async def list_messages(self, chat_id: UUID, *, limit: int | None = None) -> Sequence[Message]:
        return await self._latest_messages(MessageRow.chat_id == chat_id, limit)

    @_translated
    async def history_before(self, message: Message, *, limit: int) -> Sequence[Message]:
        params = {"b_chat": message.chat_id, "b_response": message.response_id, "b_limit": limit}
        rows = (await self._run(hot.HISTORY_BEFORE, params)).all()
        return [hot.message_of(row) for row in reversed(rows)]

    @_translated
    async def claim(self, message_id: UUID, *, in_turn: bool = True) -> Message | None:
        # One statement, so two workers counting at once cannot both read the old value.
        statement = hot.CLAIM_IN_TURN if in_turn else hot.CLAIM
        row = (await self._run(statement, {"b_id": message_id})).first()
        return None if row is None else hot.message_of(row)

    @_translated
    async def set_status(self, message_id: UUID, status: Status) -> None:
        params = {"b_id": message_id, "b_status": status.value}
        if (await self._run(hot.SET_STATUS, params)).scalar_one_or_none() is None:
            raise NotFound(f"message {message_id} does not exist")

    @_translated
    async def pending(self, *, limit: int, after: UUID | None = None) -> Sequence[Message]:
        query = (
            select(hot.messages)
            .where(MessageRow.status == Status.PENDING.value)
            .where(MessageRow.role == Role.USER.value)
            .order_by(MessageRow.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(MessageRow.id > after)
        return [hot.message_of(row) for row in await self._connection.execute(query)]

    @_translated
    async def mark_dispatched(self, message_id: UUID) -> None:
        await self._run(hot.MARK_DISPATCHED, {"b_id": message_id, "b_at": utcnow()})

    @_translated
    async def undispatched(self, *, older_than: float, limit: int) -> Sequence[Message]:
        cutoff = utcnow() - timedelta(seconds=older_than)
        query = (
            select(hot.messages)
            .where(MessageRow.status == Status.PENDING.value)
            .where(MessageRow.role == Role.USER.value)
            .where(MessageRow.dispatched_at.is_(None))
            .where(MessageRow.created_at <= cutoff)
            .order_by(MessageRow.id)
            .limit(limit)
        )
        return [hot.message_of(row) for row in await self._connection.execute(query)]

    @_translated
    async def add_file(self, meta: FileMeta) -> None:
        self._session.add(FileRow(**_file_values(meta)))
        await self._session.flush()

    @_translated
    async def get_file(self, file_id: UUID) -> FileMeta | None:
        row = await self._get(FileRow, file_id)
        return None if row is None else _file(row)

    @_translated
    async def add_api_key(self, key: ApiKey) -> None:
        self._session.add(_api_key_row(key))
        await self._session.flush()

    @_translated
    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._session.scalar(select(ApiKeyRow).where(ApiKeyRow.hash == key_hash))
        return None if row is None else _api_key(row)

    @_translated
    async def list_api_keys(self, user_id: UUID | None = None) -> Sequence[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.id.desc())
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        return [_api_key(row) for row in await self._session.scalars(query)]

    @_translated
    async def revoke_api_key(self, key_id: UUID) -> ApiKey | None:
        row = await self._get(ApiKeyRow, key_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await self._session.flush()
        return _api_key(row)

    @_translated
    async def add_audit(self, event: AuditEvent) -> None:
        self._session.add(
            AuditRow(
                id=event.id,
                at=event.at,
                action=event.action,
                actor=event.actor[:255],
                actor_id=event.actor_id,
                target=event.target[:255],
                ip=event.ip[:64],
                request_id=event.request_id[:64],
                detail=event.detail,
            )
        )
        await self._session.flush()

    @_translated
    async def list_audit(
        self,
        *,
        limit: int,
        action: str | None = None,
        actor: str | None = None,
        before: UUID | None = None,
    ) -> Sequence[AuditEvent]:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AuditRow.action.startswith(action, autoescape=True))
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if before is not None:
            query = query.where(AuditRow.id < before)
        return [_audit(row) for row in await self._session.scalars(query)]

    @_translated
    async def put_secret(self, name: str, ciphertext: str) -> None:
        row = await self._get(SecretRow, name)
        if row is None:
            self._session.add(SecretRow(name=name, ciphertext=ciphertext, updated_at=utcnow()))
        else:
            row.ciphertext, row.updated_at = ciphertext, utcnow()
        await self._session.flush()

    @_translated
    async def get_secret(self, name: str) -> str | None:
        row = await self._get(SecretRow, name)
        return None if row is None else row.ciphertext

    @_translated
    async def secret_names(self) -> Sequence[str]:
        return list(await self._session.scalars(select(SecretRow.name).order_by(SecretRow.name)))

    @_translated
    async def delete_secret(self, name: str) -> bool:
        result = await self._session.execute(delete(SecretRow).where(SecretRow.name == name))
        return bool(getattr(result, "rowcount", 0))

    @_translated
    async def get_idempotent(self, user_id: UUID, key: str) -> IdempotentResult | None:
        row = await self._get(IdempotencyKeyRow, (user_id, key))
        if row is None:
            return None
        return IdempotentResult(
            request_hash=row.request_hash, status_code=row.status_code, body=row.body
        )

    @_translated
    async def put_idempotent(self, user_id: UUID, key: str, result: IdempotentResult) -> None:
        values = {
            "user_id": user_id,
            "key": key,
            "request_hash": result.request_hash,
            "status_code": result.status_code,
            "body": result.body,
            "created_at": utcnow(),
        }
        if not await self._insert_unless_taken(IdempotencyKeyRow, values, ["user_id", "key"]):
            raise DuplicateKey(f"idempotency key {key!r} already holds a result")


class SqlStore:
    """A ``Store`` on one async engine; build it with ``connect()``.

    SQLite keeps the sqlite3 driver's default ("legacy") transaction control: BEGIN is
    sent just before a transaction's first write, so the write lock is taken by that
    write and a busy writer is waited for (busy_timeout) instead of failing on a stale
    read snapshot. Reads before the first write are not isolated from other writers;
    nothing here depends on that, as every read-then-write is settled by a constraint.
    """

    def __init__(
        self,
        engine: AsyncEngine | InlineEngine,
        backend: Backend,
        commits: GroupCommit | None = None,
    ) -> None:
        self._engine = engine
        self._backend = backend
        self._commits = commits  # SQLite's: makes commits durable after the fact

    def transaction(self, *, durable: bool = True) -> AbstractAsyncContextManager[SqlTransaction]:
        return _Unit(self, durable)

    async def _rollback(self, connection: AsyncConnection | InlineConnection) -> None:
        """Roll back, never masking the caller's exception with a second one."""
        try:
            await connection.rollback()
        except Exception:
            log.warning("rollback failed; the connection is discarded", exc_info=True)

    async def ping(self) -> None:
        try:
            connection = await self._engine.connect()
            try:
                await connection.execute(text("SELECT 1"))
            finally:
                await connection.close()
        except Exception as error:
            unusable = _unusable(error, self._backend)
            if unusable is None:
                raise
            raise unusable from error

    async def close(self) -> None:
        await self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        return {"backend": self._backend}


class _Unit:
    """One ``SqlStore.transaction()``: commits when its block ends, rolls back when it
    raises, and gives the connection back either way. A plain class, not a generator
    context manager: every answer runs five of these.

    Connecting happens on entry, so an unreachable database fails at ``async with``.
    A durable SQLite write waits for its fsync after the connection is given back.
    """

    __slots__ = ("_connection", "_durable", "_store", "_transaction")

    def __init__(self, store: SqlStore, durable: bool) -> None:
        self._store = store
        self._durable = durable
        self._connection: AsyncConnection | InlineConnection | None = None
        self._transaction: SqlTransaction | None = None

    async def __aenter__(self) -> SqlTransaction:
        store = self._store
        try:
            connection = await store._engine.connect()
        except Exception as error:
            _reraise(error, _unusable(error, store._backend))
        try:
            await connection.begin()
        except BaseException as error:
            await connection.close()
            if isinstance(error, Exception):
                _reraise(error, _unusable(error, store._backend))
            raise
        self._connection = connection
        self._transaction = SqlTransaction(connection, store._backend)
        return self._transaction

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        store, connection, transaction = self._store, self._connection, self._transaction
        assert connection is not None
        assert transaction is not None
        wrote = False
        try:
            if error is not None:
                await store._rollback(connection)
                return  # the block's own error goes on
            try:
                await transaction._flush()
                wrote = isinstance(connection, InlineConnection) and connection.wrote
                await connection.commit()
            except BaseException as failure:
                await store._rollback(connection)
                if isinstance(failure, Exception):
                    _reraise(failure, _unavailable(failure, store._backend))
                raise
        finally:
            await transaction._close()
            await connection.close()
        if wrote and self._durable:
            assert store._commits is not None
            try:
                await store._commits.durable()  # with the connection free for others
            except Exception as failure:
                _reraise(failure, _unavailable(failure, store._backend))


def _reraise(error: Exception, translated: StoreUnavailable | None) -> NoReturn:
    """Raise ``error``'s translation, caused by it; or ``error`` itself when it has none."""
    if translated is None:
        raise error
    raise translated from error


async def connect(url: str, *, echo: bool = False, connect_timeout: float = 5.0) -> SqlStore:
    """Build a store for ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``).

    ``connect_timeout`` (s) bounds opening a PostgreSQL connection and waiting for a free
    one in the pool; SQLite has no connection to wait for.

    Nothing connects yet: the service starts while the database is down, and readiness
    (``ping``) reports it until it comes back.
    """
    parsed = make_url(url)
    backend = backend_of(parsed)
    if backend == "sqlite" and _in_memory(parsed):
        raise ValueError(
            "an in-memory SQLite database cannot hold chatorch's data: the migrations and"
            " the server would each get an empty one of their own; name a file, such as"
            " sqlite+aiosqlite:///./data/chatorch.db"
        )
    if backend == "sqlite":
        commits = GroupCommit()
        return SqlStore(_sqlite_engine(parsed, echo=echo, commits=commits), backend, commits)
    engine = _postgres_engine(parsed, echo=echo, connect_timeout=connect_timeout)
    return SqlStore(engine, backend)


def backend_of(url: URL) -> Backend:
    """Which supported backend ``url`` names; anything else is a configuration error."""
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise ValueError(f"unsupported database {name!r}; use sqlite+aiosqlite or postgresql+asyncpg")


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def ensure_sqlite_directory(url: URL) -> None:
    """Create the directory of a SQLite file, which SQLite itself refuses to do."""
    database = url.database
    if backend_of(url) != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:"):  # a URI filename; leave it to SQLite
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (message metadata, audit details) through orjson, not the json module.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _sqlite_engine(url: URL, *, echo: bool, commits: GroupCommit) -> InlineEngine:
    """SQLAlchemy's synchronous engine on the standard library's driver (inline_sqlite)."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url.set(drivername="sqlite"),
        echo=echo,
        pool_size=1,  # one connection, used in turns: see inline_sqlite
        max_overflow=0,
        **_JSON_CODEC,
    )
    event.listen(engine, "connect", functools.partial(_configure_sqlite, commits))
    return InlineEngine(engine, wait=SQLITE_POOL_WAIT)


def _configure_sqlite(commits: GroupCommit, dbapi_connection: Any, _record: Any) -> None:
    """Per connection: WAL so readers never block the writer, foreign keys enforced (off
    by default in SQLite), and a busy timeout so a second writer waits instead of failing.

    ``synchronous=NORMAL``: a commit writes the log without syncing it, and the store
    waits for ``commits`` to sync it instead, many commits to one fsync (ADR 0010).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA database_list")
        file = next((row[2] for row in cursor.fetchall() if row[1] == "main"), "")
        commits.database = Path(file) if file else None
    finally:
        cursor.close()


def _postgres_engine(url: URL, *, echo: bool, connect_timeout: float) -> AsyncEngine:
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_timeout=connect_timeout,
        pool_pre_ping=True,  # a restarted server costs one retry, not one failed request
        pool_recycle=1_800,
        connect_args={"timeout": connect_timeout, "command_timeout": 60},
        **_JSON_CODEC,
    )


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_store(store: SqlStore) -> Store:
        return store

    def _is_transaction(transaction: SqlTransaction) -> Transaction:
        return transaction
