"""Single sign-on settings refuse what cannot work, in one line naming the setting."""

from typing import Any

import pytest
from pydantic import ValidationError

from chatorch.settings import Settings

ISSUER = "https://id.example.test/realms/chat"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def _refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        _settings(**values)
    return str(refused.value.errors()[0]["msg"])


def test_off_by_default() -> None:
    settings = _settings()
    assert settings.oidc_issuer is None
    assert settings.oidc_client_id is None
    assert settings.oidc_scopes == "openid profile email"


def test_an_issuer_with_its_client_is_accepted_as_given() -> None:
    settings = _settings(oidc_issuer=f"{ISSUER}/", oidc_client_id="chatorch-web")
    assert settings.oidc_issuer == f"{ISSUER}/"  # the 'iss' claim is compared exactly
    assert settings.oidc_client_id == "chatorch-web"


def test_a_local_http_provider_is_accepted() -> None:
    settings = _settings(oidc_issuer="http://127.0.0.1:8080", oidc_client_id="web")
    assert settings.oidc_issuer == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "issuer", ["id.example.test", "ftp://id.example.test", "https://", f"{ISSUER}?x=1"]
)
def test_the_issuer_must_be_an_absolute_http_url(issuer: str) -> None:
    refusal = _refusal(oidc_issuer=issuer, oidc_client_id="web")
    assert "CHATORCH_OIDC_ISSUER" in refusal
    assert "is not an absolute http(s) URL" in refusal


def test_the_issuer_has_no_fragment() -> None:
    assert "must not have a fragment" in _refusal(oidc_issuer=f"{ISSUER}#x", oidc_client_id="w")


def test_an_issuer_needs_its_client_id() -> None:
    refusal = _refusal(oidc_issuer=ISSUER)
    assert "CHATORCH_OIDC_CLIENT_ID is required with CHATORCH_OIDC_ISSUER" in refusal
    assert "public client" in refusal
    assert "CHATORCH_OIDC_CLIENT_ID is required" in _refusal(oidc_issuer=ISSUER, oidc_client_id="")


def test_a_client_id_needs_its_issuer() -> None:
    refusal = _refusal(oidc_client_id="web")
    assert "CHATORCH_OIDC_CLIENT_ID is set but CHATORCH_OIDC_ISSUER is not" in refusal


def test_the_scopes_must_ask_for_an_id_token() -> None:
    refusal = _refusal(oidc_issuer=ISSUER, oidc_client_id="web", oidc_scopes="profile email")
    assert "CHATORCH_OIDC_SCOPES" in refusal
    assert "lacks 'openid'" in refusal


def test_the_scopes_are_normalised_to_single_spaces() -> None:
    settings = _settings(oidc_issuer=ISSUER, oidc_client_id="web", oidc_scopes=" openid  email ")
    assert settings.oidc_scopes == "openid email"


def test_one_identity_provider_only() -> None:
    refusal = _refusal(
        oidc_issuer=ISSUER, oidc_client_id="web", jwt_issuer="https://other.example.test/"
    )
    assert "CHATORCH_JWT_ISSUER" in refusal
    assert "chatorch trusts one identity provider" in refusal
    same = _settings(oidc_issuer=ISSUER, oidc_client_id="web", jwt_issuer=ISSUER)
    assert same.jwt_issuer == same.oidc_issuer


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATORCH_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("CHATORCH_OIDC_CLIENT_ID", "chatorch-web")
    monkeypatch.setenv("CHATORCH_OIDC_SCOPES", "openid email")
    settings = _settings()
    assert (settings.oidc_issuer, settings.oidc_client_id) == (ISSUER, "chatorch-web")
    assert settings.oidc_scopes == "openid email"
