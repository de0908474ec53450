"""Request dependencies: the container, and who is asking.

``current_user`` is the single place identity is resolved; real authentication
replaces its body without touching a router.
"""

from typing import Annotated

from fastapi import Depends, Request

from chatorch.domain.entities import User
from chatorch.wiring import Container


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def current_user(c: Annotated[Container, Depends(container)]) -> User:
    """Embedded mode serves one local user."""
    return c.local_user


ContainerDep = Annotated[Container, Depends(container)]
UserDep = Annotated[User, Depends(current_user)]
