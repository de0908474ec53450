"""Storing a finished answer through a store outage, instead of making it again.

An answer that is complete when the database is down is kept in memory and its write
retried with growing pauses until the store is back: generating it again would cost
the model call twice, and the client's stream waits either way. Only when the outage
outlasts ``STORE_PATIENCE`` does the error reach the runner (the work goes back to the
queue, and the answer is made again later). One warning per outage, not one per answer.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from chatorch.domain.errors import StoreUnavailable

log = structlog.get_logger(__name__)

STORE_PATIENCE = 300.0  # s a finished answer waits for the store before it is given back
FIRST_PAUSE, LONGEST_PAUSE = 0.2, 5.0  # s between tries: doubling from one to the other


class _Outage:
    """Whether this process has said the store is down, so it says it once."""

    said = False


def store_down(error: StoreUnavailable) -> None:
    """Say, once per outage, that the store is down and answers wait for it."""
    if not _Outage.said:
        _Outage.said = True
        log.warning(
            "answer.store_waiting",
            detail=f"{error.detail}; answers wait for it (finished ones are kept)",
        )


def store_back() -> None:
    if _Outage.said:
        _Outage.said = False
        log.info("answer.store_back")


async def until_stored(write: Callable[[], Awaitable[None]]) -> None:
    """Run ``write`` (one transaction) until it succeeds, through a store outage.

    Raises:
        StoreUnavailable: the store stayed down for ``STORE_PATIENCE`` s.
    """
    pause, deadline = FIRST_PAUSE, time.monotonic() + STORE_PATIENCE
    while True:
        try:
            await write()
        except StoreUnavailable as error:
            if time.monotonic() + pause > deadline:
                raise
            store_down(error)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
            continue
        store_back()
        return
