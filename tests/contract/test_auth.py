"""The credential contract: API keys and JWTs (shared secret, JWKS) admit and refuse alike.

``TokenVerifier`` has one adapter, ``JwtVerifier``, with two sources of keys: an HS256
secret and an identity provider's JWKS (served here on 127.0.0.1). API keys are no
verifier but the ``Authenticator``'s own path. All three are checked where a request
meets them — ``Authenticator.authenticate`` on a real store — so one suite says what
every credential promises: a valid one names a user and a role, the same user each
time; every bad one is refused the same way, a 401 that never repeats the token.
What only one kind does (leeway, caching the key set, key lengths) is in the unit tests.
"""

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chatorch.adapters.auth.jwt import JwtVerifier
from chatorch.domain.entities import AccessRole, Principal, User
from chatorch.domain.errors import Unauthenticated
from chatorch.ports.store import Store
from chatorch.services.auth import Authenticator
from tests.conftest import remember

ISSUER = "https://idp.example.test/"
AUDIENCE = "chatorch"
SECRET = remember("a-contract-secret-that-is-long-enough-for-hs256")
OTHER_SECRET = remember("another-contract-secret-long-enough-for-hs256")
KID = "key-1"
# Bad credentials each kind can be handed, with the word its refusal gives as reason;
# not every kind has every flaw (an API key names no audience), so each lists its own.
JWT_FLAWS = {
    "expired": "expired",
    "wrong_audience": "audience",
    "wrong_issuer": "issuer",
    "bad_signature": "signature",
    "tampered": "signature",
}
KEY_FLAWS = {"expired": "expired", "revoked": "revoked", "tampered": "unknown"}
FLAWS = [
    *(("api_key", flaw, reason) for flaw, reason in KEY_FLAWS.items()),
    *(("jwt_secret", flaw, reason) for flaw, reason in JWT_FLAWS.items()),
    *(("jwt_jwks", flaw, reason) for flaw, reason in JWT_FLAWS.items()),
]
GARBAGE = ["", "not-a-token", "a.b.c", "chk_", "chk_nonsense", "eyJhbGciOiJIUzI1NiJ9.%%%.xyz"]


@dataclass
class Credentials:
    """One kind of credential: how to make a good one or one with a flaw, and check it."""

    kind: str
    authenticator: Authenticator
    issue: Callable[[str, AccessRole], Awaitable[str]]
    flawed: Callable[[str], Awaitable[str]]
    user_prefix: str = ""  # how the kind names its users: token subjects get "oidc:"

    async def check(self, token: str) -> Principal:
        return await self.authenticator.authenticate(
            f"Bearer {token}", ip="127.0.0.1", request_id="contract"
        )


def _authenticator(store: Store, verifier: JwtVerifier | None = None) -> Authenticator:
    return Authenticator(store, verifier=verifier, required=True, local_user=User("local"))


def _claims(subject: str = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject}
    values |= {"iat": now, "nbf": now, "exp": now + 300, "chatorch_role": "user"}
    return values | overrides


def _expired() -> dict[str, Any]:
    past = int(time.time()) - 3600  # far beyond any leeway
    return _claims(iat=past - 600, nbf=past - 600, exp=past)


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    """``token`` claiming to be someone else, its signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{_segment(_claims('mallory', chatorch_role='admin'))}.{signature}"


def _api_keys(store: Store) -> Credentials:
    authenticator = _authenticator(store)

    async def issue(subject: str, role: AccessRole) -> str:
        key, _ = await authenticator.create_key(user_name=subject, role=role)
        return remember(key)

    async def flawed(flaw: str) -> str:
        if flaw == "expired":
            expires_in = timedelta(seconds=-1)
            key, _ = await authenticator.create_key(
                user_name="bob", role=AccessRole.ADMIN, expires_in=expires_in
            )
            return remember(key)
        key, stored = await authenticator.create_key(user_name="bob", role=AccessRole.ADMIN)
        if flaw == "revoked":
            await authenticator.revoke_key(stored.id)
            return remember(key)
        assert flaw == "tampered"
        return key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    return Credentials("api_key", authenticator, issue, flawed)


def _jwts(kind: str, store: Store, verifier: JwtVerifier, sign: Callable[..., str]) -> Credentials:
    """``sign(claims, stranger=False)``: a token signed with the provider's key, or not."""

    async def issue(subject: str, role: AccessRole) -> str:
        return remember(sign(_claims(subject, chatorch_role=role.value)))

    async def flawed(flaw: str) -> str:
        tokens = {
            "expired": lambda: sign(_expired()),
            "wrong_audience": lambda: sign(_claims(aud="someone-else")),
            "wrong_issuer": lambda: sign(_claims(iss="https://evil.example.test/")),
            "bad_signature": lambda: sign(_claims(), stranger=True),
            "tampered": lambda: _tampered(sign(_claims())),
        }
        return remember(tokens[flaw]())

    return Credentials(kind, _authenticator(store, verifier), issue, flawed, user_prefix="oidc:")


def _jwt_secret(store: Store) -> Credentials:
    def sign(claims: dict[str, Any], *, stranger: bool = False) -> str:
        return jwt.encode(claims, OTHER_SECRET if stranger else SECRET, algorithm="HS256")

    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, secret=SECRET)
    return _jwts("jwt_secret", store, verifier, sign)


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The identity provider's signing key, and a stranger's."""
    return tuple(  # type: ignore[return-value]
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)
    )


@pytest.fixture
async def jwks_url(rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> AsyncIterator[str]:
    """A local identity provider serving its public key set."""
    public: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_keys[0].public_key(), as_dict=True)
    document = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", keys)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/.well-known/jwks.json"
    finally:
        await runner.cleanup()


@pytest.fixture(params=["api_key", "jwt_secret", "jwt_jwks"])
async def credentials(
    request: pytest.FixtureRequest,
    sqlite_store: Store,
    rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    jwks_url: str,
) -> Credentials:
    if request.param == "api_key":
        return _api_keys(sqlite_store)
    if request.param == "jwt_secret":
        return _jwt_secret(sqlite_store)
    provider_key, stranger_key = rsa_keys

    def sign(claims: dict[str, Any], *, stranger: bool = False) -> str:
        key = stranger_key if stranger else provider_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})

    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    return _jwts("jwt_jwks", sqlite_store, verifier, sign)


async def _refusal(credentials: Credentials, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await credentials.check(token)
    return caught.value


class TestValid:
    @pytest.mark.parametrize("role", list(AccessRole))
    async def test_a_valid_credential_names_its_user_and_role(
        self, credentials: Credentials, role: AccessRole
    ) -> None:
        principal = await credentials.check(await credentials.issue("alice", role))
        assert principal.user.name == f"{credentials.user_prefix}alice"
        assert principal.role is role

    async def test_it_names_the_same_user_every_time(self, credentials: Credentials) -> None:
        first = await credentials.check(await credentials.issue("alice", AccessRole.USER))
        again = await credentials.check(await credentials.issue("alice", AccessRole.USER))
        other = await credentials.check(await credentials.issue("carol", AccessRole.USER))
        assert again.user.id == first.user.id
        assert other.user.id != first.user.id


class TestRefused:
    @pytest.mark.parametrize(("credentials", "flaw", "reason"), FLAWS, indirect=["credentials"])
    async def test_a_flawed_credential_is_refused_saying_why(
        self, credentials: Credentials, flaw: str, reason: str
    ) -> None:
        token = await credentials.flawed(flaw)
        refusal = await _refusal(credentials, token)
        assert (refusal.status, refusal.code) == (401, "unauthenticated")
        assert reason in refusal.detail
        assert token not in str(refusal)

    @pytest.mark.parametrize("token", GARBAGE)
    async def test_garbage_is_refused(self, credentials: Credentials, token: str) -> None:
        refusal = await _refusal(credentials, token)
        assert (refusal.status, refusal.code) == (401, "unauthenticated")
        if len(token) > 4:
            assert token not in str(refusal)
