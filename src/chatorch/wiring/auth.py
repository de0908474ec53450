"""Who is asking: API keys in the store, tokens of an OIDC provider, and the rate limiter
that bounds both messages and failed sign-ins (in-process or on Redis).

With ``CHATORCH_OIDC_ISSUER`` the provider's discovery document says where its keys
are, and the web page's tokens (ID tokens: their ``aud`` is the page's client id) are
accepted without any ``CHATORCH_JWT_*``; a ``CHATORCH_JWT_*`` given anyway wins.
"""

from contextlib import AsyncExitStack

from chatorch.adapters.auth.discovery import OidcDiscovery, ProviderMetadata
from chatorch.adapters.ratelimit.limits import from_url as rate_limiter
from chatorch.domain.entities import User
from chatorch.ports.auth import TokenVerifier
from chatorch.ports.ratelimit import RateLimiter
from chatorch.ports.store import Store
from chatorch.services.auth import Authenticator
from chatorch.settings import Settings

__all__ = [
    "OidcDiscovery",
    "ProviderMetadata",
    "build_authenticator",
    "build_limiter",
    "oidc_discovery",
]


def build_limiter(settings: Settings, stack: AsyncExitStack) -> RateLimiter:
    limiter = rate_limiter(settings.cache_url, namespace=settings.namespace)
    stack.push_async_callback(limiter.close)
    return limiter


def build_authenticator(
    settings: Settings, store: Store, *, local_user: User, limiter: RateLimiter
) -> Authenticator:
    return Authenticator(
        store,
        verifier=_verifier(settings),
        required=settings.auth_required,
        local_user=local_user,
        role_claim=settings.jwt_role_claim,
        limiter=limiter,
        failure_rate=settings.rate_auth_failures,
        key_cache_seconds=settings.key_cache_seconds,
    )


def oidc_discovery(settings: Settings) -> OidcDiscovery | None:
    """Where the page signs in and the keys are, when a provider is configured."""
    return OidcDiscovery(settings.oidc_issuer) if settings.oidc_issuer else None


def _verifier(s: Settings) -> TokenVerifier | None:
    """A JWT verifier when an identity provider is configured (issuer, audience, keys)."""
    if s.oidc_issuer and s.oidc_client_id:
        from chatorch.adapters.auth.jwt import JwtVerifier

        named = s.jwt_jwks_url is not None or s.jwt_secret is not None
        return JwtVerifier(
            issuer=s.oidc_issuer,
            audience=s.jwt_audience or s.oidc_client_id,
            jwks_url=s.jwt_jwks_url,
            secret=s.jwt_secret.get_secret_value() if s.jwt_secret else None,
            discovery=None if named else oidc_discovery(s),
        )
    if not (s.jwt_issuer and s.jwt_audience and (s.jwt_jwks_url or s.jwt_secret)):
        return None
    from chatorch.adapters.auth.jwt import JwtVerifier

    return JwtVerifier(
        issuer=s.jwt_issuer,
        audience=s.jwt_audience,
        jwks_url=s.jwt_jwks_url,
        secret=s.jwt_secret.get_secret_value() if s.jwt_secret else None,
    )
