"""Request dependencies: the container, who is asking, and what a body must be.

``current_principal`` is the one place identity is resolved: it hands the bearer
credential (the ``Authorization`` header, or on event streams ``?access_token=``) to the
container's ``Authenticator``, which answers with an API key's or an OIDC token's user
and role, or the local user when authentication is not required. ``current_user`` is
that user; ``OperatorDep`` and ``AdminDep`` refuse a caller below that role (403).
``json_body`` and ``require_json`` refuse a body that is not JSON (415).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chatorch.container import Container
from chatorch.domain.entities import AccessRole, Principal, User
from chatorch.domain.errors import ChatorchError, Forbidden
from chatorch.services.auth import KEY_PREFIX

_PRINCIPAL = "chatorch.principal"  # where AuthenticateFirst leaves who is asking
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The OpenAI-compatible routes (api/openai.py): their clients always send some key.
OPENAI_PATHS = frozenset({"/v1/models", "/v1/chat/completions"})


def container_of(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def container(request: Request) -> Container:
    # async, as every dependency here: FastAPI runs a plain ``def`` in a thread pool.
    return container_of(request)


async def current_principal(request: Request) -> Principal:
    """Who is asking, from ``Authorization: Bearer …``."""
    return await authenticate(request, token_in_query=False)


async def authenticate(request: Request, *, token_in_query: bool) -> Principal:
    """Who is asking, from ``Authorization: Bearer …``.

    ``token_in_query``: ``?access_token=`` is accepted too — only event streams ask for
    it, for browsers' EventSource, which cannot set headers; anywhere else a token in
    the URL would only end up in logs. Both are read off the request: as declared
    parameters FastAPI would validate them on every request, a tenth of a millisecond
    for two optional strings. The OpenAPI schema states the scheme (``problems.document``).
    The answer is kept on the request: a second ask (``AuthenticateFirst``, then the
    route; a role check, then the user) costs nothing.
    """
    state = request.scope.setdefault("state", {})
    if (known := state.get(_PRINCIPAL)) is not None:
        return known  # type: ignore[no-any-return]
    authorization = request.headers.get("authorization")
    if (
        token_in_query
        and authorization is None
        and b"access_token" in request.scope.get("query_string", b"")  # parse only then
        and (token := request.query_params.get("access_token"))
    ):
        authorization = f"Bearer {token}"
    if authorization and request.scope["path"] in OPENAI_PATHS:
        authorization = _placeholder_dropped(request, authorization)
    principal = await container_of(request).auth.authenticate(
        authorization,
        ip=request.client.host if request.client else "",
        request_id=state.get("request_id", ""),
    )
    state[_PRINCIPAL] = principal
    return principal


def _placeholder_dropped(request: Request, authorization: str) -> str | None:
    """An OpenAI client sends a key even where none is needed ("sk-no-key-required"):
    without CHATORCH_AUTH_REQUIRED, one that is neither a chatorch key nor a token (a
    JWT has two dots) is no credential, rather than a wrong one."""
    if container_of(request).settings.auth_required:
        return authorization
    credential = authorization.partition(" ")[2].strip()
    if credential.startswith(KEY_PREFIX) or credential.count(".") == 2:
        return authorization
    return None


async def current_user(request: Request) -> User:
    """The user asking. Not ``Depends(current_principal)``: each dependency FastAPI
    resolves costs about as much per request as the work it wraps here."""
    return (await authenticate(request, token_in_query=False)).user


async def streaming_user(request: Request) -> User:
    """The user asking for an event stream: ``?access_token=`` counts too."""
    return (await authenticate(request, token_in_query=True)).user


class AuthenticateFirst:
    """Authenticate a request that carries a body before anything reads the body.

    FastAPI reads and validates a route's body before it resolves the dependencies that
    authenticate: an anonymous client was read in full, and got a 422 for a bad body
    instead of its 401. Here a ``/v1`` request with a body is authenticated first,
    refused as a problem if it must be, and its principal kept for the route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        render: Callable[[Request, Exception], Awaitable[Response]],
        public: str,
    ) -> None:
        """``public``: the path prefix of routes that authenticate their own way."""
        self.app = app
        self._render = render
        self._public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith("/v1/")
            or scope["path"].startswith(self._public)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            await authenticate(request, token_in_query=False)  # kept for the route
        except ChatorchError as error:
            response = await self._render(request, error)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def role_at_least(role: AccessRole) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only callers with ``role`` or more through."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.at_least(role):
            raise Forbidden(f"this needs the {role.value} role; yours is {principal.role.value}")
        return principal

    return check


class UnsupportedMediaType(ChatorchError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


async def json_body(request: Request) -> None:
    """Refuse a body that is not JSON before FastAPI tries to read it as JSON."""
    if request.headers.get("content-length", "0") == "0" and (
        "transfer-encoding" not in request.headers
    ):
        return  # no body at all: the route says whether it needs one
    require_json(request)


def require_json(request: Request) -> None:
    """Refuse a body that is not JSON, saying what it is instead."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the message as application/json, not {media_type or 'no content type'}"
        )


ContainerDep = Annotated[Container, Depends(container)]
UserDep = Annotated[User, Depends(current_user)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
OperatorDep = Annotated[Principal, Depends(role_at_least(AccessRole.OPERATOR))]
AdminDep = Annotated[Principal, Depends(role_at_least(AccessRole.ADMIN))]
