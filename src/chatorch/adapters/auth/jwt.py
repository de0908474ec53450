"""JwtVerifier: the TokenVerifier port for JWTs from an OIDC identity provider (PyJWT).

Keys come either from the provider's JWKS endpoint (asymmetric: RS256, ES256, ...),
named or found through its discovery document (``CHATORCH_OIDC_ISSUER``), or from a
shared secret (HS256). Every failure is an ``Unauthenticated`` whose detail says
why in a few words; no message ever repeats the token.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import InvalidSubjectError

from chatorch.adapters.auth.discovery import OidcDiscovery
from chatorch.domain.errors import ServiceUnavailable, Unauthenticated
from chatorch.ports.auth import Identity

JWKS_TIMEOUT = 5.0  # s for one fetch of the provider's key set
JWKS_LIFESPAN = 300.0  # s a fetched key set is trusted before it is fetched again
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash

_JWKS_ALGORITHMS = ("RS256", "ES256")
_SECRET_ALGORITHMS = ("HS256",)
_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]

# Most specific first: several of these subclass one another.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidIssuedAtError, "bad issued-at time"),
    (InvalidSubjectError, "bad subject"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidKeyError, "signing key unusable"),
    (jwt.DecodeError, "malformed token"),
)


class JwtVerifier:
    """Check a bearer JWT's signature, ``iss``, ``aud``, ``exp`` (required), ``nbf``, ``iat``.

    Give exactly one of ``jwks_url`` (the provider's key set, fetched in a worker thread
    with a short timeout and cached), ``discovery`` (the same, at the ``jwks_uri`` its
    document names, looked up on the first token: a provider down at start delays no
    start) or ``secret`` (a shared HS256 key). ``algorithms`` defaults to RS256 and
    ES256 for a JWKS, HS256 for a secret; "none" is never accepted.
    ``leeway`` is the clock skew, in seconds, allowed on the time claims. Keys shorter than
    the algorithm's recommended minimum are refused.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        secret: str | None = None,
        discovery: OidcDiscovery | None = None,
        algorithms: Sequence[str] | None = None,
        leeway: float = 30,
    ) -> None:
        if sum(source is not None for source in (jwks_url, secret, discovery)) != 1:
            raise ValueError("give exactly one of jwks_url, discovery and secret")
        if not issuer or not audience:
            raise ValueError("issuer and audience must not be empty")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        chosen = list(algorithms or (_SECRET_ALGORITHMS if secret else _JWKS_ALGORITHMS))
        if not chosen:
            raise ValueError("algorithms must not be empty")
        if any(name.lower() == "none" for name in chosen):
            raise ValueError('the "none" algorithm is never allowed')
        symmetric = [name for name in chosen if name.upper().startswith("HS")]
        if secret is not None:
            if len(symmetric) != len(chosen):
                raise ValueError("a shared secret verifies HS* algorithms only")
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"the secret must have at least {MIN_SECRET_BYTES} bytes")
        elif symmetric:
            raise ValueError("a JWKS verifies asymmetric algorithms only (no HS*)")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = chosen
        self._leeway = leeway
        self._secret = secret
        self._discovery = discovery
        self._jwks = None if jwks_url is None else _key_client(jwks_url)

    async def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise Unauthenticated("algorithm not allowed")
        key: PyJWK | str
        if self._secret is not None:
            key = self._secret
        else:
            key = await self._signing_key(await self._key_set(), header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(f"token lacks the {error.claim!r} claim") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(_reason(error)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject")
        return Identity(issuer=self._issuer, subject=subject, claims=claims)

    async def _key_set(self) -> PyJWKClient:
        """The provider's key set: named, or at the ``jwks_uri`` of its discovery."""
        if self._jwks is None:
            assert self._discovery is not None
            try:
                metadata = await self._discovery.metadata()
            except ServiceUnavailable as error:
                detail = f"identity provider keys unavailable ({error.detail})"
                raise Unauthenticated(detail) from None
            self._jwks = _key_client(metadata.jwks_uri)
        return self._jwks

    @staticmethod
    async def _signing_key(client: PyJWKClient, kid: object) -> PyJWK:
        """The provider's key named ``kid``; the fetch blocks, so it runs in a thread."""
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("signing key not found: the token names no key (kid)")

        def lookup() -> PyJWK:
            # The key set first: its failures mean the provider is unreachable or broken,
            # so a failure of the lookup after it means the key is not in the set.
            try:
                client.get_signing_keys()
            except jwt.PyJWTError as error:
                raise Unauthenticated(f"identity provider keys unavailable ({error})") from None
            try:
                return client.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError as error:
                raise Unauthenticated(f"identity provider keys unavailable ({error})") from None
            except jwt.PyJWTError:
                raise Unauthenticated("signing key not found") from None

        return await asyncio.to_thread(lookup)


def _key_client(jwks_url: str) -> PyJWKClient:
    return PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=JWKS_LIFESPAN, timeout=JWKS_TIMEOUT)


def _reason(error: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid token"
