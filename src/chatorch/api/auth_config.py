"""``GET /v1/auth/config``: how the web page signs in. Public: it is asked before any.

The page learns here whether it must sign in at all, and, with ``CHATORCH_OIDC_*``,
where the identity provider sends the user and trades the code for tokens (its
discovery document, fetched by the server: cached, with a short timeout). A provider
that cannot be reached leaves ``oidc`` null and says why in ``oidc_error``, so the page
still offers API keys and tells the user why single sign-on is missing.
"""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from chatorch.api.deps import container_of
from chatorch.domain.errors import ServiceUnavailable
from chatorch.wiring.auth import OidcDiscovery, ProviderMetadata, oidc_discovery

PATH = "/v1/auth/config"

router = APIRouter(tags=["auth"])


class OidcSignIn(BaseModel):
    """Authorization code flow with PKCE (S256), for the public client ``client_id``."""

    issuer: str
    client_id: str
    scopes: str = Field(description="space-separated, as the authorization request sends them")
    authorization_endpoint: str
    token_endpoint: str
    end_session_endpoint: str | None = Field(
        default=None, description="where to end the provider's session, if it has one"
    )


class AuthConfig(BaseModel):
    auth_required: bool = Field(description="every /v1 route needs an API key or a token")
    api_keys: bool = Field(default=True, description="API keys are always accepted")
    oidc: OidcSignIn | None = Field(
        default=None, description="single sign-on; null when not configured or unreachable"
    )
    oidc_error: str | None = Field(
        default=None, description="why single sign-on is configured but not offered now"
    )


@router.get(PATH, response_model=AuthConfig, summary="How to sign in")
async def auth_config(request: Request) -> AuthConfig:
    """Needs no credential. ``oidc`` is null without ``CHATORCH_OIDC_ISSUER``."""
    settings = container_of(request).settings
    config = AuthConfig(auth_required=settings.auth_required)
    discovery = _discovery(request)
    if discovery is None or settings.oidc_client_id is None:
        return config
    try:
        metadata = await discovery.metadata()
    except ServiceUnavailable as error:
        config.oidc_error = error.detail
        return config
    config.oidc = OidcSignIn(
        issuer=metadata.issuer,
        client_id=settings.oidc_client_id,
        scopes=settings.oidc_scopes,
        authorization_endpoint=metadata.authorization_endpoint,
        token_endpoint=metadata.token_endpoint,
        end_session_endpoint=metadata.end_session_endpoint,
    )
    return config


async def provider(request: Request) -> ProviderMetadata | None:
    """The provider's endpoints; None without one, or while it cannot be reached."""
    discovery = _discovery(request)
    if discovery is None:
        return None
    try:
        return await discovery.metadata()
    except ServiceUnavailable:
        return None  # logged by the discovery, once per attempt


def _discovery(request: Request) -> OidcDiscovery | None:
    """One per app, made on first use: its cache then serves every request."""
    state = request.app.state
    found: OidcDiscovery | None = getattr(state, "oidc_discovery", None)
    if found is None:
        found = oidc_discovery(container_of(request).settings)
        state.oidc_discovery = found
    return found
