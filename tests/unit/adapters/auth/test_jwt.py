"""JwtVerifier: HS256 with a shared secret, RS256 with keys from a JWKS endpoint.

What every credential promises (valid → user and role; expired, wrong audience or
issuer, bad signature, garbage → refused) is the contract suite's:
tests/contract/test_auth.py. Here: the verifier's own rules and wording.
"""

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chatorch.adapters.auth.jwt import JwtVerifier
from chatorch.domain.errors import Unauthenticated

ISSUER = "https://idp.example.test/"
AUDIENCE = "chatorch"
SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "email": "user@example.test",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def refused(verifier: JwtVerifier, token: str) -> str:
    """The detail of the refusal of ``token``, checked never to contain the token."""
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    detail = caught.value.detail
    assert token not in detail
    assert token not in str(caught.value)
    return detail


# ---- A shared secret ------------------------------------------------------------------


@pytest.fixture
def verifier() -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret=SECRET)


class TestSharedSecret:
    async def test_a_valid_token_gives_its_identity(self, verifier: JwtVerifier) -> None:
        identity = await verifier.verify(hs256(claims()))
        assert identity.issuer == ISSUER
        assert identity.subject == "user-1"
        assert identity.claims["email"] == "user@example.test"

    async def test_expiry_allows_the_leeway(self, verifier: JwtVerifier) -> None:
        token = hs256(claims(exp=int(time.time()) - 5))
        assert (await verifier.verify(token)).subject == "user-1"

    async def test_a_token_not_yet_valid_is_refused(self, verifier: JwtVerifier) -> None:
        token = hs256(claims(nbf=int(time.time()) + 3600))
        assert await refused(verifier, token) == "token not yet valid"

    @pytest.mark.parametrize("claim", ["sub", "exp", "aud", "iss"])
    async def test_a_token_without_a_required_claim_is_refused(
        self, verifier: JwtVerifier, claim: str
    ) -> None:
        token = hs256(claims(**{claim: None}))
        assert await refused(verifier, token) == f"token lacks the {claim!r} claim"

    async def test_an_empty_subject_is_refused(self, verifier: JwtVerifier) -> None:
        assert await refused(verifier, hs256(claims(sub=""))) == "token has no subject"

    async def test_an_unsigned_token_is_refused(self, verifier: JwtVerifier) -> None:
        token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}."
        assert await refused(verifier, token) == "algorithm not allowed"

    @pytest.mark.parametrize(
        "token",
        ["", "not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.%%%.xyz", "Bearer x.y"],
    )
    async def test_a_malformed_token_is_refused(self, verifier: JwtVerifier, token: str) -> None:
        with pytest.raises(Unauthenticated, match=r"^malformed token$") as caught:
            await verifier.verify(token)
        if token:
            assert token not in caught.value.detail


class TestConfiguration:
    def test_exactly_one_key_source(self) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            JwtVerifier(issuer=ISSUER, audience=AUDIENCE)
        with pytest.raises(ValueError, match="exactly one"):
            JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret=SECRET, jwks_url="http://x/jwks")

    def test_none_is_never_an_algorithm(self) -> None:
        with pytest.raises(ValueError, match="none"):
            JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret=SECRET, algorithms=["none"])

    def test_a_short_secret_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 32 bytes"):
            JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret="short")

    def test_key_kinds_and_algorithms_must_match(self) -> None:
        with pytest.raises(ValueError, match="HS"):
            JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret=SECRET, algorithms=["RS256"])
        with pytest.raises(ValueError, match="HS"):
            JwtVerifier(
                issuer=ISSUER,
                audience=AUDIENCE,
                jwks_url="http://127.0.0.1/jwks",
                algorithms=["HS256"],
            )


# ---- Keys from a JWKS endpoint ----------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey, kid: str = "key-1") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@dataclass
class Jwks:
    url: str
    fetches: list[float] = field(default_factory=list)


@pytest.fixture
async def jwks(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[Jwks]:
    """A local identity provider serving its public key set."""
    public: dict[str, Any] = RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    document = {"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}
    served = Jwks(url="")

    async def keys(_: web.Request) -> web.Response:
        served.fetches.append(time.monotonic())
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", keys)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        served.url = f"http://{host}:{port}/.well-known/jwks.json"
        yield served
    finally:
        await runner.cleanup()


def jwks_verifier(url: str) -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url)


class TestJwks:
    async def test_a_valid_token_gives_its_identity(
        self, jwks: Jwks, signing_key: rsa.RSAPrivateKey
    ) -> None:
        verifier = jwks_verifier(jwks.url)
        identity = await verifier.verify(rs256(claims(), signing_key))
        assert (identity.issuer, identity.subject) == (ISSUER, "user-1")

    async def test_the_key_set_is_fetched_once_and_cached(
        self, jwks: Jwks, signing_key: rsa.RSAPrivateKey
    ) -> None:
        verifier = jwks_verifier(jwks.url)
        for _ in range(3):
            await verifier.verify(rs256(claims(), signing_key))
        assert len(jwks.fetches) == 1

    async def test_a_token_naming_an_unknown_key_is_refused(
        self, jwks: Jwks, stranger_key: rsa.RSAPrivateKey
    ) -> None:
        token = rs256(claims(), stranger_key, kid="key-unknown")
        assert await refused(jwks_verifier(jwks.url), token) == "signing key not found"

    async def test_a_token_naming_no_key_is_refused(
        self, jwks: Jwks, signing_key: rsa.RSAPrivateKey
    ) -> None:
        token = jwt.encode(claims(), signing_key, algorithm="RS256")
        assert (await refused(jwks_verifier(jwks.url), token)).startswith("signing key not found")

    async def test_a_shared_secret_token_is_refused(self, jwks: Jwks) -> None:
        token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "key-1"})
        assert await refused(jwks_verifier(jwks.url), token) == "algorithm not allowed"

    async def test_an_unreachable_provider_is_reported_without_the_token(
        self, signing_key: rsa.RSAPrivateKey, closed_port: int
    ) -> None:
        verifier = jwks_verifier(f"http://127.0.0.1:{closed_port}/.well-known/jwks.json")
        token = rs256(claims(), signing_key)
        started = time.monotonic()
        detail = await refused(verifier, token)
        assert detail.startswith("identity provider keys unavailable")
        assert time.monotonic() - started < 5
