"""``UserRepository`` on SQL: users, their API keys and the audit trail, through the ORM
(none of this is on the message path)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import delete, select

from chatorch.adapters.sql.models import ApiKeyRow, AuditRow, UserRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import AccessRole, ApiKey, AuditEvent, User, utcnow
from chatorch.ports.users import UserRepository


class SqlUserRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def ensure_user(self, name: str) -> User:
        # Read first so the common case never writes (a write locks a SQLite database).
        query = select(UserRow).where(UserRow.name == name)
        row = await self._scope.session.scalar(query)
        if row is None:
            # Two first requests may race: ON CONFLICT lets the loser read the winner's row.
            user = User(name=name)
            values = {"id": user.id, "name": user.name, "created_at": user.created_at}
            await self._scope.insert_unless_taken(UserRow, values, ["name"])
            row = (await self._scope.session.scalars(query)).one()
        return _user(row)

    @translated
    async def get_user(self, user_id: UUID) -> User | None:
        row = await self._scope.get(UserRow, user_id)
        return None if row is None else _user(row)

    @translated
    async def delete_user(self, user_id: UUID) -> bool:
        # Chats, their messages, files and keys go by ON DELETE CASCADE, in one statement.
        result = await self._scope.session.execute(delete(UserRow).where(UserRow.id == user_id))
        return bool(getattr(result, "rowcount", 0))

    @translated
    async def add_api_key(self, key: ApiKey) -> None:
        self._scope.session.add(
            ApiKeyRow(
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
        )
        await self._scope.session.flush()

    @translated
    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        query = select(ApiKeyRow).where(ApiKeyRow.hash == key_hash)
        row = await self._scope.session.scalar(query)
        return None if row is None else _api_key(row)

    @translated
    async def list_api_keys(self, user_id: UUID | None = None) -> Sequence[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.id.desc())
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        return [_api_key(row) for row in await self._scope.session.scalars(query)]

    @translated
    async def revoke_api_key(self, key_id: UUID) -> ApiKey | None:
        row = await self._scope.get(ApiKeyRow, key_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await self._scope.session.flush()
        return _api_key(row)

    @translated
    async def add_audit(self, event: AuditEvent) -> None:
        self._scope.session.add(
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
        await self._scope.session.flush()

    @translated
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
        return [_audit(row) for row in await self._scope.session.scalars(query)]


def _user(row: UserRow) -> User:
    return User(id=row.id, name=row.name, created_at=row.created_at)


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


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlUserRepository) -> UserRepository:
        return repository
