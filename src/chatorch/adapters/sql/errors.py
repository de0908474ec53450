"""Driver errors become port errors here, and only here.

Losing the database becomes ``StoreUnavailable`` whichever layer said it (sockets,
SQLAlchemy's wrappers, the pool, asyncpg itself); every other error goes on as it is.
Messages keep the driver's first line: enough to diagnose, no SQL or parameters.
"""

from typing import Literal, NoReturn

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy import exc as sa_exc

from chatorch.domain.errors import StoreUnavailable

Backend = Literal["sqlite", "postgresql"]

# Errors that mean "the database did not answer", whichever layer raised them: sockets
# and timeouts (OSError covers both), SQLAlchemy's wrappers, pool exhaustion, and
# asyncpg's own connection errors when they slip past SQLAlchemy's translation.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def unavailable(error: BaseException, backend: Backend) -> StoreUnavailable | None:
    """The ``StoreUnavailable`` a lost or unreachable database means, whatever the
    driver said it with; None for any other error, which goes on as it is."""
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailable(f"{backend} database unavailable: {brief(error)}")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable(f"{backend} connection lost: {brief(error)}")
    return None


def unusable(error: BaseException, backend: Backend) -> StoreUnavailable | None:
    """While only connecting, any failure means no usable database: wrong credentials, a
    missing database or a server still starting are all "unavailable" to the caller.
    """
    found = unavailable(error, backend)
    if found is None and isinstance(error, sa_exc.SQLAlchemyError):
        return StoreUnavailable(f"{backend} database unusable: {brief(error)}")
    return found


def brief(error: BaseException) -> str:
    """The first line of the driver's message: enough to diagnose, no SQL or parameters."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        error = error.orig
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def reraise(error: Exception, translated: StoreUnavailable | None) -> NoReturn:
    """Raise ``error``'s translation, caused by it; or ``error`` itself when it has none."""
    if translated is None:
        raise error
    raise translated from error
