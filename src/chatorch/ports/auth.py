"""TokenVerifier: checks a bearer token from an identity provider (OIDC JWT)."""

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for: its issuer and subject, and its claims."""

    issuer: str
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Identity:
        """Check signature, issuer, audience and expiry.

        Raises:
            Unauthenticated: the token is not valid; the detail says why, without the token.
        """
        ...
