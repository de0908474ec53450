"""Authenticator: turns an ``Authorization`` header into a Principal, and manages API keys.

API keys (``chk_…``) are looked up by their SHA-256 hash — the key itself is never
stored. Anything else is a JWT for the configured identity provider; its subject becomes
a chatorch user on first sight. Without credentials, the embedded mode acts as the
local user; with ``CHATORCH_AUTH_REQUIRED`` it refuses. Every refusal is audited.
"""

import functools
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import structlog

from chatorch.domain.entities import AccessRole, ApiKey, AuditEvent, Principal, User
from chatorch.domain.errors import InvalidInput, NotFound, RateLimited, Unauthenticated
from chatorch.ports.auth import TokenVerifier
from chatorch.ports.ratelimit import RateLimiter
from chatorch.ports.store import Store

log = structlog.get_logger(__name__)
T = TypeVar("T")

KEY_PREFIX = "chk_"  # recognisable in a leaked-secret scan, and never a JWT
SHOWN_PREFIX = 12  # characters of a key kept to recognise it in lists and the audit
MAX_SUBJECT_CHARS = 200  # a token's subject, as the user name "oidc:<subject>" (≤ 255)
AUDIT_FAILURES_EVERY = "1/minute"  # audit rows of failed sign-ins per address
ERASE_PAGE = 500  # chats listed per query while erasing a user
ADDRESSES_HELD = 10_000  # addresses (or keys) this process remembers, the oldest dropped
SUSPECT_FOR = 3600.0  # s after its last failure here an address is checked before lookups

_RANK = [AccessRole.USER, AccessRole.OPERATOR, AccessRole.ADMIN]
_ROLES = frozenset(role.value for role in AccessRole)


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
        key_cache_seconds: float = 0.0,
    ) -> None:
        """``key_cache_seconds``: how long a key found valid is believed without reading
        the store again — a key revoked on another process works here that long."""
        self._store = store
        self._verifier = verifier
        self._required = required
        self._local = local_user
        self._role_claim = role_claim
        self._limiter = limiter
        self._failure_rate = failure_rate
        self._unwritten: dict[str, int] = {}  # failures per address not yet in the audit
        self._suspects: dict[str, float] = {}  # addresses that failed here: when, last
        self._keys = _KnownKeys(key_cache_seconds)

    @property
    def store(self) -> Store:
        return self._store

    async def authenticate(
        self, authorization: str | None, *, ip: str, request_id: str
    ) -> Principal:
        """The principal ``authorization`` proves.

        Raises:
            Unauthenticated: no or a wrong credential (audited, counted against ``ip``).
            RateLimited: ``ip`` failed too often lately; checked before any lookup, so a
                guesser costs neither a database read nor an audit row.
        """
        if not authorization and not self._required:
            return Principal(self._local, AccessRole.ADMIN, "local")
        await self._refuse_guessing(ip)
        try:
            if not authorization:
                raise Unauthenticated("send Authorization: Bearer <API key or token>")
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("the Authorization header must be 'Bearer <key or token>'")
            if credential.startswith(KEY_PREFIX):
                return await self._by_key(credential)
            return await self._by_token(credential)
        except Unauthenticated as refusal:
            await self._audit_failure(refusal.detail, ip=ip, request_id=request_id)
            await self._count_failure(ip)
            raise

    async def _refuse_guessing(self, ip: str) -> None:
        """Asks the limiter only about addresses that failed here lately: a client that
        never failed costs no call (on Redis, a round trip) on every request."""
        if self._limiter is None or not ip:
            return
        failed_at = self._suspects.get(ip)
        if failed_at is None or time.monotonic() - failed_at > SUSPECT_FOR:
            self._suspects.pop(ip, None)
            return
        decision = await self._limiter.test(self._failure_rate, f"authfail:{ip}")
        if not decision.allowed:
            raise _too_many_failures(ip, decision.retry_after)

    async def _count_failure(self, ip: str) -> None:
        """Too many failures from one address turn its refusals into 429s: slows guessing."""
        if self._limiter is None or not ip:
            return
        _remember(self._suspects, ip, time.monotonic())
        decision = await self._limiter.hit(self._failure_rate, f"authfail:{ip}")
        if not decision.allowed:
            raise _too_many_failures(ip, decision.retry_after)

    async def _audit_failure(self, reason: str, *, ip: str, request_id: str) -> None:
        """One audit row per address and minute at most; the row says how many failures
        from that address went unwritten before it (counted by this process)."""
        if self._limiter is not None and ip:
            decision = await self._limiter.hit(AUDIT_FAILURES_EVERY, f"authfail-audit:{ip}")
            if not decision.allowed:
                _remember(self._unwritten, ip, self._unwritten.get(ip, 0) + 1)
                return
        detail: dict[str, object] = {"reason": reason}
        if repeats := self._unwritten.pop(ip, 0):
            detail["unwritten_before"] = repeats
        await self.audit(
            AuditEvent(
                action="auth.failed", actor="anonymous", ip=ip, request_id=request_id, detail=detail
            )
        )

    async def _by_key(self, key: str) -> Principal:
        hashed = key_hash(key)
        if known := self._keys.get(hashed):
            return known
        async with self._store.transaction() as tx:
            found = await tx.users.find_api_key(hashed)
            user = None if found is None else await tx.users.get_user(found.user_id)
        if found is None or user is None:
            raise Unauthenticated("unknown API key")
        if found.revoked_at is not None:
            raise Unauthenticated(f"API key {found.prefix}… was revoked")
        if found.expires_at is not None and found.expires_at <= datetime.now(UTC):
            raise Unauthenticated(f"API key {found.prefix}… has expired")
        principal = Principal(user, found.role, f"api_key:{found.prefix}")
        self._keys.put(hashed, principal, expires_at=found.expires_at)
        return principal

    async def _by_token(self, token: str) -> Principal:
        if self._verifier is None:
            raise Unauthenticated(
                "not an API key, and no identity provider is configured (CHATORCH_JWT_*)"
            )
        identity = await self._verifier.verify(token)
        subject = identity.subject
        if "\x00" in subject or len(subject) > MAX_SUBJECT_CHARS:
            raise Unauthenticated(
                f"the token's subject must be at most {MAX_SUBJECT_CHARS} characters, "
                "without NUL; ask the identity provider for another subject claim"
            )
        async with self._store.transaction() as tx:
            user = await tx.users.ensure_user(f"oidc:{subject}")
        return Principal(user, self._role_of(identity.claims), f"jwt:{identity.issuer}")

    def _role_of(self, claims: Mapping[str, Any]) -> AccessRole:
        """The role CHATORCH_JWT_ROLE_CLAIM names: a string, or a list where the highest
        known role wins (Keycloak and Entra send lists); a dotted name reaches into
        objects (``realm_access.roles``). Anything else is ``user``, logged once per shape."""
        claimed = _claim(claims, self._role_claim)
        if claimed is None:
            return AccessRole.USER
        values = [claimed] if isinstance(claimed, str) else claimed
        if not isinstance(values, list):
            _warn_shape(self._role_claim, type(claimed).__name__)
            return AccessRole.USER
        known = [AccessRole(v) for v in values if isinstance(v, str) and v in _ROLES]
        return max(known, key=_RANK.index) if known else AccessRole.USER

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
        self._keys.drop(lambda principal: principal.via == f"api_key:{revoked.prefix}")
        return revoked

    async def erase_user(self, user_id: UUID, *, actor: str) -> list[UUID]:
        """Delete a user and everything of theirs (GDPR erasure), and say so in the audit.

        Returns the ids of the chats erased: their events on the bus are the caller's
        to forget (``Bus.forget``), which also ends their open streams.
        """
        async with self._store.transaction() as tx:
            user = await tx.users.get_user(user_id)
            chats: list[UUID] = []
            while user is not None:  # page through every chat, oldest last
                page = await tx.chats.list_chats(
                    user_id, limit=ERASE_PAGE, before=chats[-1] if chats else None
                )
                chats += [chat.id for chat in page]
                if len(page) < ERASE_PAGE:
                    break
            if user is None or not await tx.users.delete_user(user_id):
                raise NotFound(f"no user {user_id}")
            await tx.users.add_audit(
                AuditEvent(
                    action="user.deleted",
                    actor=actor,
                    target=str(user_id),
                    detail={"chats": len(chats)},
                )
            )
        self._keys.drop(lambda principal: principal.user.id == user_id)
        return chats

    async def audit(self, event: AuditEvent) -> None:
        """Record an event in its own transaction; a store outage must not hide the refusal."""
        try:
            async with self._store.transaction() as tx:
                await tx.users.add_audit(event)
        except Exception:
            log.exception("audit.write_failed", action=event.action)


class _KnownKeys:
    """API keys found valid lately, by hash: a request with a key then costs no store
    read (two statements per request, most of the cost of a short one). Revoking a key
    or erasing a user forgets it here at once; other processes believe it until its
    entry is ``ttl`` s old (docs/security.md). A key that expires meanwhile does not."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._held: dict[str, tuple[Principal, float, datetime | None]] = {}

    def get(self, hashed: str) -> Principal | None:
        held = self._held.get(hashed)
        if held is None:
            return None
        principal, until, expires_at = held
        if time.monotonic() >= until or (
            expires_at is not None and expires_at <= datetime.now(UTC)
        ):
            del self._held[hashed]
            return None
        return principal

    def put(self, hashed: str, principal: Principal, *, expires_at: datetime | None) -> None:
        if self._ttl <= 0:
            return
        _remember(self._held, hashed, (principal, time.monotonic() + self._ttl, expires_at))

    def drop(self, matches: Callable[[Principal], bool]) -> None:
        for hashed in [h for h, (principal, *_) in self._held.items() if matches(principal)]:
            del self._held[hashed]


def _remember(by_address: dict[str, T], ip: str, value: T) -> None:
    """Set ``by_address[ip]``, dropping the oldest entry when the map is full."""
    by_address.pop(ip, None)  # re-inserted last: the newest
    if len(by_address) >= ADDRESSES_HELD:
        del by_address[next(iter(by_address))]
    by_address[ip] = value


def _too_many_failures(ip: str, retry_after: float) -> RateLimited:
    return RateLimited(
        f"too many failed authentications from {ip}; try again in {retry_after:.0f} s",
        retry_after=retry_after,
    )


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """``claims[name]``, or for a dotted name not present as such, the nested value."""
    if name in claims or "." not in name:
        return claims.get(name)
    found: Any = claims
    for part in name.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


@functools.cache
def _warn_shape(claim: str, shape: str) -> None:
    log.warning(
        "auth.role_claim_ignored",
        claim=claim,
        shape=shape,
        detail="the role claim must be a string or a list of strings; acting as user",
    )
