"""Administration: health, live connections, API keys and the audit trail.

Health and connections need the ``operator`` role; keys and the audit trail need ``admin``.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from chatorch.api.deps import AdminDep, ContainerDep, OperatorDep, json_body
from chatorch.api.schemas import NO_NUL, NOT_BLANK
from chatorch.container import Container
from chatorch.domain.entities import AccessRole, ApiKey, AuditEvent
from chatorch.domain.errors import NotConfigured, ServiceUnavailable
from chatorch.services.probes import ProbeCache
from chatorch.services.secrets import NAME_PATTERN, Vault

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ConnectionOut(BaseModel):
    id: UUID
    chat_id: UUID
    user_id: UUID
    opened_at: datetime


class Connections(BaseModel):
    total: int
    pods: dict[str, list[ConnectionOut]]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="created if new")
    role: Literal["user", "operator", "admin"] = "user"
    name: str = Field(default="", max_length=200, pattern=NO_NUL)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class KeyOut(BaseModel):
    id: UUID
    user_id: UUID
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "KeyOut":
        return cls(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            role=key.role.value,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class CreatedKey(KeyOut):
    key: str = Field(description="shown this once; store it now")


class AuditOut(BaseModel):
    id: UUID
    at: datetime
    action: str
    actor: str
    actor_id: UUID | None
    target: str
    ip: str
    request_id: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditOut":
        return cls(
            id=event.id,
            at=event.at,
            action=event.action,
            actor=event.actor,
            actor_id=event.actor_id,
            target=event.target,
            ip=event.ip,
            request_id=event.request_id,
            detail=event.detail,
        )


class ProviderOut(BaseModel):
    name: str = Field(description="as CHATORCH_LLM names it, e.g. openai:gpt-4o-mini")
    ok: bool
    latency_ms: float
    detail: str


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    services: dict[str, dict[str, Any]] = Field(description="as /readyz reports them")
    providers: list[ProviderOut] = Field(description="CHATORCH_LLM's chain, in its order")
    providers_checked_at: datetime = Field(description="providers are asked at most every 10 s")


@router.get("/health", response_model=HealthReport)
async def health(request: Request, c: ContainerDep, _: OperatorDep) -> HealthReport:
    """The backing services, as /readyz asks them, and every provider of the chain.

    ``unavailable``: a critical service is down, or no provider answers; ``degraded``:
    something else is down (a provider the chain falls back from, the cache, ...).
    """
    services = await c.readiness()
    chain = await _provider_probes(request, c).get()
    critical = all(check["ok"] for check in services.values() if check["critical"])
    if not critical or not chain.answering:
        verdict: Literal["ok", "degraded", "unavailable"] = "unavailable"
    elif chain.all_ok and all(check["ok"] for check in services.values()):
        verdict = "ok"
    else:
        verdict = "degraded"
    return HealthReport(
        status=verdict,
        services=services,
        providers=[
            ProviderOut(name=p.name, ok=p.ok, latency_ms=p.latency_ms, detail=p.detail)
            for p in chain.providers
        ],
        providers_checked_at=datetime.fromtimestamp(chain.checked_at, tz=UTC),
    )


def _provider_probes(request: Request, c: Container) -> ProbeCache:
    """One cache per app: probes are shared by every caller for a few seconds."""
    probes: ProbeCache | None = getattr(request.app.state, "provider_probes", None)
    if probes is None:
        probes = request.app.state.provider_probes = ProbeCache(c.llm.providers)
    return probes


@router.get("/connections", response_model=Connections)
async def connections(c: ContainerDep, _: OperatorDep) -> Connections:
    """Live event streams per pod, as the session registry knows them."""
    by_pod: dict[str, list[ConnectionOut]] = defaultdict(list)
    found = await c.registry.connections()
    for conn in found:
        by_pod[conn.pod_id].append(
            ConnectionOut(
                id=conn.id, chat_id=conn.chat_id, user_id=conn.user_id, opened_at=conn.opened_at
            )
        )
    return Connections(total=len(found), pods=dict(by_pod))


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedKey,
    dependencies=[Depends(json_body)],
)
async def create_key(body: NewKey, c: ContainerDep, admin: AdminDep) -> CreatedKey:
    expires = None if body.expires_in_days is None else timedelta(days=body.expires_in_days)
    key, stored = await c.auth.create_key(
        user_name=body.user,
        role=AccessRole(body.role),
        name=body.name,
        expires_in=expires,
        actor=admin.user.name,
    )
    return CreatedKey(key=key, **KeyOut.of(stored).model_dump())


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(c: ContainerDep, _: AdminDep) -> list[KeyOut]:
    async with c.store.transaction() as tx:
        return [KeyOut.of(key) for key in await tx.users.list_api_keys()]


@router.delete("/keys/{key_id}", response_model=KeyOut)
async def revoke_key(key_id: UUID, c: ContainerDep, admin: AdminDep) -> KeyOut:
    return KeyOut.of(await c.auth.revoke_key(key_id, actor=admin.user.name))


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_user(user_id: UUID, c: ContainerDep, admin: AdminDep) -> Response:
    """Erase a user: their chats, messages, files (rows, bytes and vectors) and keys
    (GDPR), and their chats' events on the bus, which ends their open streams. The
    audit stays."""
    await c.artifacts.erase_owner(user_id)  # their files' bytes and vectors first
    chats = await c.auth.erase_user(user_id, actor=admin.user.name)
    try:
        await c.bus.forget(chats)
    except ServiceUnavailable as error:  # erased all the same; the log ages out anyway
        log.warning("user.erased_events_kept", user_id=str(user_id), detail=error.detail)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class NewSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=8192)


@router.put(
    "/secrets/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(json_body)],
)
async def put_secret(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    body: NewSecret,
    c: ContainerDep,
    admin: AdminDep,
) -> Response:
    """Store a secret encrypted (e.g. ``openai_api_key``); its value is never shown again."""
    await _vault(c).put(name, body.value)
    await c.auth.audit(AuditEvent(action="secret.set", actor=admin.user.name, target=name))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/secrets", response_model=list[str])
async def secret_names(c: ContainerDep, _: AdminDep) -> list[str]:
    """The names of the stored secrets (never their values)."""
    return list(await _vault(c).names())


@router.delete("/secrets/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_secret(
    name: Annotated[str, Path(pattern=NAME_PATTERN)], c: ContainerDep, admin: AdminDep
) -> Response:
    await _vault(c).delete(name)
    await c.auth.audit(AuditEvent(action="secret.deleted", actor=admin.user.name, target=name))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _vault(c: Container) -> Vault:
    if c.vault is None:
        raise NotConfigured("set CHATORCH_SECRET_KEYS to store secrets (they are encrypted)")
    return c.vault


@router.get("/audit", response_model=list[AuditOut])
async def audit(
    c: ContainerDep,
    _: AdminDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="prefix, e.g. key.")
    ] = None,
    actor: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
    before: Annotated[UUID | None, Query(description="only events older than this id")] = None,
) -> list[AuditOut]:
    """Audit events, newest first."""
    async with c.store.transaction() as tx:
        events = await tx.users.list_audit(limit=limit, action=action, actor=actor, before=before)
    return [AuditOut.of(event) for event in events]
