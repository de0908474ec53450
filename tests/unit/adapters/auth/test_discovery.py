"""OidcDiscovery against a fake provider: what it trusts, and how long it remembers."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatorch.adapters.auth.discovery import OidcDiscovery, discovery_url
from chatorch.domain.errors import ServiceUnavailable
from tests.fixtures.fake_oidc import FakeOidc, fake_oidc_server


@pytest.fixture
async def idp() -> AsyncIterator[FakeOidc]:
    async with fake_oidc_server() as fake:
        yield fake


def test_the_well_known_path_follows_the_issuer_without_its_last_slash() -> None:
    assert discovery_url("https://id.example.test/realms/chat/") == (
        "https://id.example.test/realms/chat/.well-known/openid-configuration"
    )
    assert discovery_url("https://id.example.test") == (
        "https://id.example.test/.well-known/openid-configuration"
    )


async def test_the_endpoints_are_read_once_and_then_remembered(idp: FakeOidc) -> None:
    discovery = OidcDiscovery(idp.url)
    first = await discovery.metadata()
    again = await discovery.metadata()
    assert first == again
    assert first.token_endpoint == f"{idp.url}/token"
    assert first.authorization_endpoint == f"{idp.url}/authorize"
    assert first.jwks_uri == f"{idp.url}/jwks"
    assert first.end_session_endpoint == f"{idp.url}/logout"
    assert idp.discovery_reads == 1


async def test_after_its_lifespan_the_document_is_read_again(idp: FakeOidc) -> None:
    discovery = OidcDiscovery(idp.url, lifespan=0)
    await discovery.metadata()
    idp.overrides["token_endpoint"] = f"{idp.url}/oauth/token"
    assert (await discovery.metadata()).token_endpoint == f"{idp.url}/oauth/token"
    assert idp.discovery_reads == 2


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"issuer": "https://elsewhere.test"}, "names the issuer 'https://elsewhere.test'"),
        ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE with S256"),
        ({"token_endpoint": None}, "the document has no token_endpoint"),
        ({"jwks_uri": "/jwks"}, "its jwks_uri '/jwks' is not an absolute http(s) URL"),
        ({"end_session_endpoint": "javascript:x"}, "end_session_endpoint"),
    ],
)
async def test_a_document_it_cannot_trust_is_refused_saying_why(
    idp: FakeOidc, overrides: dict[str, Any], why: str
) -> None:
    idp.overrides.update(overrides)
    with pytest.raises(ServiceUnavailable) as refused:
        await OidcDiscovery(idp.url).metadata()
    assert why in refused.value.detail
    assert refused.value.detail.startswith(f"identity provider discovery at {idp.url}/.well")


async def test_without_a_pkce_list_the_provider_is_taken_at_its_word(idp: FakeOidc) -> None:
    idp.overrides["code_challenge_methods_supported"] = None  # optional in Discovery 1.0
    assert (await OidcDiscovery(idp.url).metadata()).issuer == idp.url


async def test_a_failure_is_remembered_briefly_then_retried(idp: FakeOidc) -> None:
    idp.overrides["issuer"] = "https://elsewhere.test"
    discovery = OidcDiscovery(idp.url, retry_after=0.3)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            await discovery.metadata()
    assert idp.discovery_reads == 1  # a provider in trouble is not asked on every call
    idp.overrides.clear()
    await asyncio.sleep(0.35)
    assert (await discovery.metadata()).issuer == idp.url
    assert idp.discovery_reads == 2


async def test_a_provider_that_is_not_there_is_an_unavailable_service() -> None:
    async with fake_oidc_server() as gone:
        url = gone.url
    with pytest.raises(ServiceUnavailable) as refused:
        await OidcDiscovery(url, timeout=2).metadata()
    assert "ConnectError" in refused.value.detail
