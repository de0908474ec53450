"""The one Settings object: environment variables prefixed ``CHATORCH_`` and ``.env``.

Built once at the entry point and passed down; nothing deep imports it as a global.
"""

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatorch.domain.embeddings import parse_embeddings
from chatorch.domain.llm import check_chain

_SCHEMES = {
    "database_url": ("sqlite+aiosqlite", "postgresql+asyncpg"),
    "bus_url": ("memory", "nats", "tls"),
    "cache_url": ("memory", "redis", "rediss"),
    "blob_url": ("file",),
}
# Where each platform's API is reached: tests and self-hosters point them elsewhere.
_PLATFORM_URLS = ("telegram_api_url", "slack_api_url", "discord_api_url", "meta_graph_url")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHATORCH_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./data/chatorch.db"
    database_pool_size: int = Field(
        default=20, ge=1, le=500, description="PostgreSQL connections each process keeps open"
    )
    bus_url: str = "memory://"
    cache_url: str = "memory://"
    blob_url: str = Field(default="file:./data/files", description="where file bytes are kept")
    vector_url: str | None = Field(
        default=None,
        description="Qdrant: local:<folder> in this process, or http(s)://host:6333;"
        " unset: local mode beside the SQLite database, or no vectors when distributed",
    )
    vector_api_key: SecretStr | None = Field(default=None, description="a Qdrant server's key")
    embeddings: str = Field(
        default="wordllama",
        description="'wordllama' (offline, in its package) or 'openai:<model>[@<dimensions>]'",
    )
    llm: str = Field(
        default="builtin",
        description="Fallback chain of providers, e.g. 'openai:gpt-4o-mini,builtin'.",
    )
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    llm_temperature: float | None = Field(default=None, ge=0, le=2)
    llm_max_tokens: int | None = Field(default=None, ge=1)
    llm_retries: int = Field(default=2, ge=0, le=10, description="retries per provider")
    llm_backoff: float = Field(default=0.5, ge=0, description="s before the first retry")
    llm_deadline: float = Field(default=120.0, gt=0, description="s for one provider call")
    breaker_failures: int = Field(default=5, ge=1, description="failures in a row → open")
    breaker_reset: float = Field(default=30.0, gt=0, description="s open before a probe")
    response_cache_seconds: float = Field(
        default=0.0, ge=0, description="s to reuse a deterministic answer; 0 = off"
    )
    tools_file: str | None = Field(
        default=None, description="YAML declaring HTTP (n8n) tools and MCP servers"
    )
    llm_timeout: float = Field(
        default=60.0, gt=0, description="s: connecting to a model server, and each read from it"
    )
    namespace: str = Field(default="chatorch", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    pod_id: str | None = Field(default=None, description="defaults to <hostname>-<pid>")

    auth_required: bool = Field(
        default=False, description="every /v1 route needs an API key or a JWT"
    )
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_role_claim: str = Field(default="chatorch_role", description="claim naming the role")
    oidc_issuer: str | None = Field(
        default=None, description="the identity provider the web page signs in with (OIDC)"
    )
    oidc_client_id: str | None = Field(
        default=None, description="the page's public client at that provider (PKCE)"
    )
    oidc_scopes: str = Field(
        default="openid profile email", description="scopes the page asks the provider for"
    )

    key_cache_seconds: float = Field(
        default=5.0, ge=0, le=300, description="s a valid API key is believed without a lookup"
    )
    rate_messages: str = Field(
        default="60/minute", description="messages one user may send (limits' syntax)"
    )
    rate_auth_failures: str = Field(
        default="20/minute", description="failed authentications from one address"
    )
    max_streams_per_user: int = Field(
        default=20, ge=1, description="event streams one user may hold open on one gateway"
    )

    secret_keys: SecretStr | None = Field(
        default=None, description="Fernet keys, comma-separated; the first encrypts"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='origins allowed by CORS, as JSON: ["https://…"]'
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="largest request body")
    max_file_bytes: int = Field(default=20 << 20, ge=1, description="largest file uploaded")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description='Host names served besides loopback, as JSON: ["chat.example.com"]',
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='proxies whose X-Forwarded-For/-Proto are believed, as JSON: ["10.0.0.2"]',
    )

    public_url: str | None = Field(
        default=None,
        description="this server as the internet reaches it, e.g. https://bots.example.com",
    )
    telegram_api_url: str = "https://api.telegram.org"
    slack_api_url: str = "https://slack.com/api"
    discord_api_url: str = "https://discord.com/api/v10"
    meta_graph_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="WhatsApp and Messenger"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve /metrics here instead (same host)"
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector for traces, e.g. http://localhost:4318"
    )

    max_content_chars: int = Field(default=32_000, ge=1)
    coalesce_ms: float = Field(default=15.0, ge=0, le=50, description="ms tokens are batched")
    stall_timeout: float = Field(default=30.0, gt=0, description="s without a chunk → failed")
    max_attempts: int = Field(default=3, ge=1, description="tries at one answer before failed")
    max_tool_steps: int = Field(default=4, ge=1, description="think → act rounds per answer")
    tool_timeout: float = Field(default=10.0, gt=0, description="s for one tool call")
    context_messages: int = Field(default=50, ge=1, description="earlier messages in a prompt")
    context_chars: int = Field(default=48_000, ge=1_000, description="prompt history budget")
    summary_idle_s: float = Field(
        default=600.0, ge=1, description="s a chat is quiet before its summary is written"
    )
    event_log_seconds: float = Field(default=600.0, gt=0, description="s events stay replayable")
    heartbeat_seconds: float = Field(default=15.0, gt=0, description="s between SSE pings")
    ack_wait: float = Field(
        default=3.0, ge=1, description="s a silent worker keeps work before it moves on"
    )
    worker_concurrency: int = Field(default=256, ge=1, description="answers in flight")

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    @field_validator("database_url", "bus_url", "cache_url", "blob_url")
    @classmethod
    def _known_scheme(cls, url: str, info: object) -> str:
        name = getattr(info, "field_name", "")
        scheme = urlsplit(url).scheme
        allowed = _SCHEMES[name]
        if scheme not in allowed:
            raise ValueError(
                f"CHATORCH_{name.upper()} has scheme {scheme!r}; expected one of {allowed}"
            )
        return url

    @field_validator("rate_messages", "rate_auth_failures")
    @classmethod
    def _rate(cls, rule: str, info: object) -> str:
        from limits import parse

        try:
            parse(rule)
        except ValueError:
            name = f"CHATORCH_{getattr(info, 'field_name', '').upper()}"
            raise ValueError(f"{name}: {rule!r} is not a rate like '60/minute'") from None
        return rule

    @field_validator("llm")
    @classmethod
    def _known_providers(cls, chain: str) -> str:
        return check_chain(chain, name="CHATORCH_LLM")

    @field_validator("vector_url")
    @classmethod
    def _vector_url(cls, url: str | None) -> str | None:
        if not url:
            return None  # chosen by the mode (docs/memory.md#retrieval)
        parts = urlsplit(url)
        if parts.scheme == "local" and parts.path and not parts.netloc:
            return url
        if parts.scheme in ("http", "https") and parts.hostname:
            return url
        raise ValueError(
            f"CHATORCH_VECTOR_URL: {url!r} is neither local:<folder> nor http(s)://host:6333"
        )

    @field_validator("embeddings")
    @classmethod
    def _known_embedder(cls, spec: str) -> str:
        parse_embeddings(spec)
        return spec

    @field_validator("oidc_issuer")
    @classmethod
    def _oidc_issuer(cls, url: str | None) -> str | None:
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"CHATORCH_OIDC_ISSUER: {url!r} is not an absolute http(s) URL without a"
                " query (the provider's issuer, as its tokens' 'iss' claim names it)"
            )
        if parts.fragment or "#" in url:
            raise ValueError(f"CHATORCH_OIDC_ISSUER: {url!r} must not have a fragment")
        return url

    @field_validator("oidc_scopes")
    @classmethod
    def _oidc_scopes(cls, scopes: str) -> str:
        if "openid" not in scopes.split():
            raise ValueError(
                f"CHATORCH_OIDC_SCOPES: {scopes!r} lacks 'openid', without which the"
                " provider issues no ID token"
            )
        return " ".join(scopes.split())

    @model_validator(mode="after")
    def _oidc_complete(self) -> "Settings":
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError(
                "CHATORCH_OIDC_CLIENT_ID is required with CHATORCH_OIDC_ISSUER: the id of the"
                " public client registered at the provider for this web page"
            )
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError(
                "CHATORCH_OIDC_CLIENT_ID is set but CHATORCH_OIDC_ISSUER is not: name the"
                " identity provider too"
            )
        if self.oidc_issuer and self.jwt_issuer and self.jwt_issuer != self.oidc_issuer:
            raise ValueError(
                f"CHATORCH_JWT_ISSUER ({self.jwt_issuer!r}) and CHATORCH_OIDC_ISSUER"
                f" ({self.oidc_issuer!r}) differ: chatorch trusts one identity provider"
            )
        return self

    @field_validator("public_url", "otlp_endpoint", *_PLATFORM_URLS)
    @classmethod
    def _absolute_url(cls, url: str | None, info: object) -> str | None:
        if url is None:
            return None
        name = f"CHATORCH_{getattr(info, 'field_name', '').upper()}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: {url!r} is not an absolute http(s) URL")
        if "?" in url or "#" in url or url.endswith("/"):
            raise ValueError(f"{name}: {url!r} must end without a query, fragment or '/'")
        return url
