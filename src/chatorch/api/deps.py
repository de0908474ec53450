"""Request dependencies: the container, and who is asking.

``current_user`` is the single place identity is resolved; real authentication
replaces its body without touching a router.
"""

from typing import Annotated

from fastapi import Depends, Request

from chatorch.domain.entities import User
from chatorch.domain.errors import ChatorchError
from chatorch.wiring import Container


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def current_user(c: Annotated[Container, Depends(container)]) -> User:
    """Embedded mode serves one local user."""
    return c.local_user


class UnsupportedMediaType(ChatorchError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


def json_body(request: Request) -> None:
    """Refuse a body that is not JSON before FastAPI tries to read it as JSON."""
    if request.headers.get("content-length", "0") == "0" and (
        "transfer-encoding" not in request.headers
    ):
        return  # no body at all: the route says whether it needs one
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the message as application/json, not {media_type or 'no content type'}"
        )


ContainerDep = Annotated[Container, Depends(container)]
UserDep = Annotated[User, Depends(current_user)]
