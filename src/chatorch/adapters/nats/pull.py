"""WorkPull: a worker's standing request for work, each item handed over as it comes.

nats-py's ``fetch(n)`` returns once its batch is full or its request ends, so a lone
item could wait in the client for the rest of the batch — past the ack wait, when
JetStream gives it to a second worker as well (two attempts, one superseded); and at
a request's expiry a bare ``TimeoutError`` could escape it and end the worker's
intake. JetStream's other clients "consume" instead: keep pull requests open for up to
``batch`` items, hand each over on arrival, ask for more when half have come. nats-py
2.16 has no such call; this is one (ADR 0026), on the pull request's wire format:

* a request is ``{"batch", "expires"}`` (``expires`` in ns) published to
  ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` with our inbox as the reply;
* items come to the inbox; so do statuses: ``408`` (a request expired,
  ``Nats-Pending-Messages`` items unsent) and ``409`` (a request ended early —
  ``Consumer Deleted`` among the reasons).

Requests live one second: a new item skips a request whose inbox nobody listens to
any more, but an item handed back (``nak``) may still go to one (nats-server 2.9), so
what came and was not handed over goes back when the closed pull's requests have
expired.
"""

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError

log = structlog.get_logger(__name__)

EXPIRES = 1.0  # s a pull request stays open on the server (an idle worker asks again)
# Every request ends by its expiry, with items or a 408: no word from the server for
# this long past it means our requests died with a connection, or with the server.
LATE = 1.0
HAND_BACK_MARGIN = 0.05  # s past our requests' expiry before what we held goes back
REFUSED_PAUSE = 0.05  # s before asking again after a refusal, doubled each time up to 1 s


class ConsumerGone(Exception):
    """The consumer was deleted under the pull: it must be made again."""


class WorkPull:
    """Hands over a JetStream pull consumer's items one at a time, as they arrive.

    It asks for up to ``batch`` items, never for more than ``room()`` (how many the
    caller can start now): what this worker cannot start goes to another. ``hold`` (s)
    is how long an item may wait here before it is skipped: its ack wait is then near
    its end, and JetStream gives it out again — started this late, it would be answered
    twice.
    """

    def __init__(
        self,
        client: Client,
        *,
        stream: str,
        consumer: str,
        batch: int,
        room: Callable[[], int],
        hold: float,
        expires: float = EXPIRES,
    ) -> None:
        self._nc = client
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._batch, self._room = batch, room
        self._hold, self._expires = hold, expires
        self._inbox = client.new_inbox()
        self._arrived: deque[tuple[float, Msg]] = deque()  # (monotonic s, item)
        self._wake = asyncio.Event()
        self._owed = 0  # items asked for that have neither come nor been called off
        self._heard = time.monotonic()  # the server's last word on our inbox
        self._asked_at = -EXPIRES  # monotonic s of the latest request
        self._refusals = 0  # requests refused in a row (409 but for a deleted consumer)
        self._gone = False
        self._subscription: Subscription | None = None

    async def open(self) -> None:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._received)

    async def close(self) -> None:
        """Stop listening; hand back what came and was not handed over."""
        if self._subscription is None or self._nc.is_closed:
            return
        await self._subscription.unsubscribe()
        expired = self._asked_at + self._expires - time.monotonic()
        for _, message in self._arrived:  # for another worker once our requests are gone
            with contextlib.suppress(ConnectionClosedError, nats.errors.Error):
                await message.nak(delay=max(expired, 0.0) + HAND_BACK_MARGIN)
        self._arrived.clear()

    async def next(self) -> Msg:
        """The next item; waits as long as it takes for one.

        Raises:
            ConsumerGone: the consumer was deleted.
        """
        while True:
            while self._arrived:
                at, message = self._arrived.popleft()
                if time.monotonic() - at < self._hold:
                    return message
                log.info("work.skipped_stale", waited=round(time.monotonic() - at, 2))
            if self._gone:
                raise ConsumerGone(self._subject)
            self._wake.clear()  # before asking: an item that comes meanwhile wakes us
            if time.monotonic() - self._heard > self._expires + LATE:
                self._owed = 0  # what we asked for died with a connection or a server
            wanted = min(self._batch, self._room())
            if wanted > self._owed and self._owed <= wanted // 2:  # half came: ask again
                if self._refusals:  # asking again at once would be refused again
                    await asyncio.sleep(min(REFUSED_PAUSE * 2 ** (self._refusals - 1), 1.0))
                await self._ask(wanted - self._owed)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._expires + LATE)
            except TimeoutError:
                continue

    async def _ask(self, count: int) -> None:
        request = {"batch": count, "expires": int(self._expires * 1e9)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        self._owed += count
        self._heard = self._asked_at = time.monotonic()  # silence counts from here

    async def _received(self, message: Msg) -> None:
        self._heard = time.monotonic()
        headers = message.headers or {}
        status = headers.get("Status")
        if status is None:
            self._owed = max(0, self._owed - 1)
            self._refusals = 0
            self._arrived.append((self._heard, message))
        else:  # 408 or 409: a request ended; it says how many items it did not send
            unsent = headers.get("Nats-Pending-Messages")
            self._owed = max(0, self._owed - int(unsent)) if unsent else 0
            if status == "409":
                self._refusals += 1
                if "Consumer Deleted" in headers.values():  # keyed by nats-py's enum
                    self._gone = True
        self._wake.set()
