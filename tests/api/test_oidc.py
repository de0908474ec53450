"""Single sign-on (CHATORCH_OIDC_*) through the API, against a fake identity provider
that speaks OIDC for real: the public sign-in options, the page's Content-Security-Policy,
and the provider's ID tokens accepted — or refused — without any CHATORCH_JWT_*."""

import base64
import hashlib
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chatorch.settings import Settings
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_oidc import FakeOidc, fake_oidc_server, new_key

CLIENT = "chatorch-web"
PAGE = "http://127.0.0.1:8000/"  # the redirect URI the page registers: its own URL


@pytest.fixture
async def idp() -> AsyncIterator[FakeOidc]:
    async with fake_oidc_server() as fake:
        fake.register(CLIENT, PAGE)
        yield fake


def _oidc(tmp_path: Path, issuer: str, **more: Any) -> Settings:
    return settings_for(
        tmp_path, auth_required=True, oidc_issuer=issuer, oidc_client_id=CLIENT, **more
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {remember(token)}"}


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing answers there


class TestSignInOptions:
    async def test_without_oidc_the_page_is_told_of_api_keys_only(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path)) as client:
            answer = await client.get("/v1/auth/config")
            page = await client.get("/")
        assert answer.status_code == 200
        assert answer.json() == {
            "auth_required": False,
            "api_keys": True,
            "oidc": None,
            "oidc_error": None,
        }
        assert "connect-src 'self';" in page.headers["content-security-policy"]

    async def test_with_oidc_the_providers_endpoints_need_no_credential(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        async with serve(_oidc(tmp_path, idp.url)) as client:
            assert (await client.get("/v1/chats")).status_code == 401  # keys are required
            answer = await client.get("/v1/auth/config")  # and yet this answers
            stale = await client.get("/v1/auth/config", headers=_bearer("expired.jwt.here"))
        assert stale.status_code == 200  # a tab's stale token does not hide how to sign in
        assert answer.status_code == 200
        assert answer.json() == {
            "auth_required": True,
            "api_keys": True,
            "oidc": {
                "issuer": idp.url,
                "client_id": CLIENT,
                "scopes": "openid profile email",
                "authorization_endpoint": f"{idp.url}/authorize",
                "token_endpoint": f"{idp.url}/token",
                "end_session_endpoint": f"{idp.url}/logout",
            },
            "oidc_error": None,
        }

    async def test_the_page_may_reach_the_token_endpoint_and_nothing_else(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        async with serve(_oidc(tmp_path, idp.url)) as client:
            policy = (await client.get("/")).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["connect-src"] == f"'self' {idp.url}"  # origin of /token
        assert directives["script-src"] == "'self'"
        assert directives["default-src"] == "'self'"
        assert directives["form-action"] == "'self'"

    async def test_an_unreachable_provider_leaves_api_keys_and_says_why(
        self, tmp_path: Path
    ) -> None:
        issuer = f"http://127.0.0.1:{_unused_port()}"
        async with serve(_oidc(tmp_path, issuer)) as client:
            answer = (await client.get("/v1/auth/config")).json()
            policy = (await client.get("/")).headers["content-security-policy"]
        assert answer["auth_required"] is True
        assert answer["oidc"] is None
        assert answer["oidc_error"].startswith(
            f"identity provider discovery at {issuer}/.well-known/openid-configuration failed"
        )
        assert "connect-src 'self';" in policy

    async def test_a_document_for_another_issuer_is_not_trusted(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        async with serve(_oidc(tmp_path, f"{idp.url}/")) as client:  # iss differs by a '/'
            answer = (await client.get("/v1/auth/config")).json()
        assert answer["oidc"] is None
        assert f"names the issuer {idp.url!r}, not {idp.url + '/'!r}" in answer["oidc_error"]


class TestTokens:
    async def test_the_providers_id_token_signs_the_user_in(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        async with serve(_oidc(tmp_path, idp.url)) as client:
            token = idp.id_token(CLIENT)
            created = await client.post("/v1/chats", json={}, headers=_bearer(token))
            assert created.status_code == 201
            listed = await client.get("/v1/chats", headers=_bearer(token))
            other = await client.get(
                "/v1/chats", headers=_bearer(idp.id_token(CLIENT, subject="x"))
            )
        assert [chat["id"] for chat in listed.json()] == [created.json()["id"]]
        assert other.status_code == 200
        assert other.json() == []  # another subject, another user

    @pytest.mark.parametrize(
        ("mint", "reason"),
        [
            (lambda idp: idp.id_token(CLIENT, key=new_key()), "bad signature"),
            (lambda idp: idp.id_token("another-client"), "wrong audience"),
            (lambda idp: idp.id_token(CLIENT, lifetime=-120), "token expired"),
        ],
        ids=["another key", "another audience", "expired"],
    )
    async def test_a_token_it_did_not_issue_for_this_page_is_a_401_problem(
        self, tmp_path: Path, idp: FakeOidc, mint: Any, reason: str
    ) -> None:
        async with serve(_oidc(tmp_path, idp.url)) as client:
            refused = await client.get("/v1/chats", headers=_bearer(mint(idp)))
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "unauthenticated"
        assert reason in refused.json()["detail"]

    async def test_the_jwt_audience_setting_names_another_audience(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        settings = _oidc(tmp_path, idp.url, jwt_audience="chatorch-api")
        async with serve(settings) as client:
            page_token = await client.get("/v1/chats", headers=_bearer(idp.id_token(CLIENT)))
            api_token = await client.get("/v1/chats", headers=_bearer(idp.id_token("chatorch-api")))
        assert page_token.status_code == 401
        assert "wrong audience" in page_token.json()["detail"]
        assert api_token.status_code == 200

    async def test_tokens_are_refused_clearly_while_the_provider_is_unreachable(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        issuer = f"http://127.0.0.1:{_unused_port()}"
        async with serve(_oidc(tmp_path, issuer)) as client:
            refused = await client.get("/v1/chats", headers=_bearer(idp.id_token(CLIENT)))
        assert refused.status_code == 401
        detail = refused.json()["detail"]
        assert detail.startswith("identity provider keys unavailable (identity provider")
        assert f"{issuer}/.well-known/openid-configuration" in detail


class TestCodeFlow:
    """The flow the page runs, step by step over HTTP, as a check of the fake itself."""

    async def _authorize(self, idp: FakeOidc, verifier: str, **extra: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params = {
            "response_type": "code",
            "client_id": CLIENT,
            "redirect_uri": PAGE,
            "scope": "openid profile email",
            "state": "s-123",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            **extra,
        }
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{idp.url}/authorize", params=params)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(PAGE)
        back = parse_qs(urlsplit(location).query)
        assert back["state"] == ["s-123"]
        return back["code"][0]

    async def _exchange(self, idp: FakeOidc, code: str, verifier: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": PAGE,
            "client_id": CLIENT,
            "code_verifier": verifier,
        }
        async with httpx.AsyncClient() as http:
            return await http.post(
                f"{idp.url}/token", data=form, headers={"Origin": "http://127.0.0.1:8000"}
            )

    async def test_a_code_is_traded_once_with_its_verifier_and_its_token_is_accepted(
        self, tmp_path: Path, idp: FakeOidc
    ) -> None:
        verifier = secrets.token_urlsafe(32)
        code = await self._authorize(idp, verifier)
        wrong = await self._exchange(idp, code, secrets.token_urlsafe(32))
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"  # and the code is spent

        code = await self._authorize(idp, verifier)
        traded = await self._exchange(idp, code, verifier)
        assert traded.status_code == 200
        assert traded.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
        tokens = traded.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["access_token"].count(".") != 2  # opaque: only the ID token is a JWT
        again = await self._exchange(idp, code, verifier)
        assert again.json()["error"] == "invalid_grant"

        async with serve(_oidc(tmp_path, idp.url)) as client:
            accepted = await client.get("/v1/chats", headers=_bearer(tokens["id_token"]))
            opaque = await client.get("/v1/chats", headers=_bearer(tokens["access_token"]))
        assert accepted.status_code == 200
        assert opaque.status_code == 401

    async def test_without_pkce_the_provider_sends_an_error_back(self, idp: FakeOidc) -> None:
        params = {
            "response_type": "code",
            "client_id": CLIENT,
            "redirect_uri": PAGE,
            "scope": "openid",
            "state": "s-1",
        }
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{idp.url}/authorize", params=params)
            stranger = await http.get(
                f"{idp.url}/authorize", params={**params, "redirect_uri": "https://evil.test/"}
            )
        back = parse_qs(urlsplit(answer.headers["location"]).query)
        assert back["error"] == ["invalid_request"]
        assert back["state"] == ["s-1"]
        assert stranger.status_code == 400  # never a redirect to an unregistered URI
