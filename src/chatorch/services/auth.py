"""Authenticator: turns an ``Authorization`` header into a Principal, and manages API keys.

API keys (``chk_…``) are looked up by their SHA-256 hash — the key itself is never
stored. Anything else is a JWT for the configured identity provider; its subject becomes
a chatorch user on first sight. Without credentials, the embedded mode acts as the
local user; with ``CHATORCH_AUTH_REQUIRED`` it refuses. Every refusal is audited.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog

from chatorch.domain.entities import AccessRole, ApiKey, AuditEvent, Principal, User
from chatorch.domain.errors import InvalidInput, NotFound, RateLimited, Unauthenticated
from chatorch.ports.auth import TokenVerifier
from chatorch.ports.ratelimit import RateLimiter
from chatorch.ports.store import Store

log = structlog.get_logger(__name__)

KEY_PREFIX = "chk_"  # recognisable in a leaked-secret scan, and never a JWT
SHOWN_PREFIX = 12  # characters of a key kept to recognise it in lists and the audit


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    def __init__(
        self,
        store: Store,
        *,
        verifier: TokenVerifier | None,
        required: bool,
        local_user: User,
        role_claim: str = "chatorch_role",
        limiter: RateLimiter | None = None,
        failure_rate: str = "20/minute",
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._required = required
        self._local = local_user
        self._role_claim = role_claim
        self._limiter = limiter
        self._failure_rate = failure_rate

    @property
    def store(self) -> Store:
        return self._store

    async def authenticate(
        self, authorization: str | None, *, ip: str, request_id: str
    ) -> Principal:
        try:
            if not authorization:
                if self._required:
                    raise Unauthenticated("send Authorization: Bearer <API key or token>")
                return Principal(self._local, AccessRole.ADMIN, "local")
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("the Authorization header must be 'Bearer <key or token>'")
            if credential.startswith(KEY_PREFIX):
                return await self._by_key(credential)
            return await self._by_token(credential)
        except Unauthenticated as refusal:
            await self.audit(
                AuditEvent(
                    action="auth.failed",
                    actor="anonymous",
                    ip=ip,
                    request_id=request_id,
                    detail={"reason": refusal.detail},
                )
            )
            await self._count_failure(ip)
            raise

    async def _count_failure(self, ip: str) -> None:
        """Too many failures from one address turn its refusals into 429s: slows guessing."""
        if self._limiter is None or not ip:
            return
        decision = await self._limiter.hit(self._failure_rate, f"authfail:{ip}")
        if not decision.allowed:
            raise RateLimited(
                f"too many failed authentications from {ip}; try again in "
                f"{decision.retry_after:.0f} s",
                retry_after=decision.retry_after,
            )

    async def _by_key(self, key: str) -> Principal:
        async with self._store.transaction() as tx:
            found = await tx.users.find_api_key(key_hash(key))
            user = None if found is None else await tx.users.get_user(found.user_id)
        if found is None or user is None:
            raise Unauthenticated("unknown API key")
        if found.revoked_at is not None:
            raise Unauthenticated(f"API key {found.prefix}… was revoked")
        if found.expires_at is not None and found.expires_at <= datetime.now(UTC):
            raise Unauthenticated(f"API key {found.prefix}… has expired")
        return Principal(user, found.role, f"api_key:{found.prefix}")

    async def _by_token(self, token: str) -> Principal:
        if self._verifier is None:
            raise Unauthenticated(
                "not an API key, and no identity provider is configured (CHATORCH_JWT_*)"
            )
        identity = await self._verifier.verify(token)
        async with self._store.transaction() as tx:
            user = await tx.users.ensure_user(f"oidc:{identity.subject}")
        claimed = identity.claims.get(self._role_claim, AccessRole.USER.value)
        role = AccessRole(claimed) if claimed in AccessRole._value2member_map_ else AccessRole.USER
        return Principal(user, role, f"jwt:{identity.issuer}")

    async def create_key(
        self,
        *,
        user_name: str,
        role: AccessRole,
        name: str = "",
        expires_in: timedelta | None = None,
        actor: str = "cli",
    ) -> tuple[str, ApiKey]:
        """Make a key for ``user_name`` (created if new); the plain key is returned once."""
        if not user_name.strip():
            raise InvalidInput("a key needs a user name")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        expires_at = None if expires_in is None else datetime.now(UTC) + expires_in
        async with self._store.transaction() as tx:
            user = await tx.users.ensure_user(user_name.strip())
            stored = ApiKey(
                user_id=user.id,
                name=name or user.name,
                prefix=key[:SHOWN_PREFIX],
                hash=key_hash(key),
                role=role,
                expires_at=expires_at,
            )
            await tx.users.add_api_key(stored)
            await tx.users.add_audit(
                AuditEvent(
                    action="key.created",
                    actor=actor,
                    target=stored.prefix,
                    detail={"user": user.name, "role": role.value, "key_id": str(stored.id)},
                )
            )
        return key, stored

    async def list_keys(self) -> list[tuple[ApiKey, str]]:
        """Every key with its user's name, newest first."""
        async with self._store.transaction() as tx:
            found = await tx.users.list_api_keys()
            names = {}
            for key in found:
                user = await tx.users.get_user(key.user_id)
                names[key.user_id] = user.name if user else "?"
        return [(key, names[key.user_id]) for key in found]

    async def revoke_key(self, key_id: UUID, *, actor: str = "cli") -> ApiKey:
        async with self._store.transaction() as tx:
            revoked = await tx.users.revoke_api_key(key_id)
            if revoked is None:
                raise NotFound(f"no API key {key_id}")
            await tx.users.add_audit(
                AuditEvent(action="key.revoked", actor=actor, target=revoked.prefix)
            )
        return revoked

    async def erase_user(self, user_id: UUID, *, actor: str) -> None:
        """Delete a user and everything of theirs (GDPR erasure), and say so in the audit."""
        async with self._store.transaction() as tx:
            user = await tx.users.get_user(user_id)
            if user is None or not await tx.users.delete_user(user_id):
                raise NotFound(f"no user {user_id}")
            await tx.users.add_audit(
                AuditEvent(action="user.deleted", actor=actor, target=str(user_id))
            )

    async def audit(self, event: AuditEvent) -> None:
        """Record an event in its own transaction; a store outage must not hide the refusal."""
        try:
            async with self._store.transaction() as tx:
                await tx.users.add_audit(event)
        except Exception:
            log.exception("audit.write_failed", action=event.action)
