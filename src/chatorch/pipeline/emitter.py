"""Emitter: numbers one response's events and publishes them, tokens coalesced.

Tokens are buffered in memory and sent at most every ``coalesce`` seconds: the first
text goes out at once (time to first token stays low), later text waits at most one
window. Nothing here writes to the database.
"""

import asyncio
import time
from typing import Any
from uuid import UUID

from chatorch.domain.events import EventKind, StreamEvent
from chatorch.ports.bus import Bus


class Emitter:
    def __init__(
        self,
        bus: Bus,
        *,
        chat_id: UUID,
        response_id: UUID,
        first_seq: int,
        coalesce: float,
        attempt: int = 1,
    ) -> None:
        self._bus = bus
        self._chat_id = chat_id
        self._response_id = response_id
        self._seq = first_seq
        self._coalesce = coalesce
        self._attempt = attempt
        self._buffer: list[str] = []
        self._shown: list[str] = []  # the text given since the last reset
        self._flushed_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._sent: list[StreamEvent] = []  # all of them: re-sent if the bus lost some
        self._began = 0.0  # monotonic s the first was sent
        self.first_token_at: float | None = None  # monotonic s

    async def _publish(self, kind: EventKind, data: dict[str, Any]) -> None:
        event = StreamEvent(kind, self._chat_id, self._response_id, self._seq, data)
        self._seq += 1
        if not self._sent:
            self._began = time.monotonic()
        if event.terminal:  # the log holds every event before the last: none is skipped
            await self._bus.confirm_logged(self._sent, since=self._began)
        self._sent.append(event)
        await self._bus.publish(event)

    async def step(self, stage: str, detail: dict[str, Any]) -> None:
        await self.flush()
        await self._publish(EventKind.STEP, {"stage": stage, "detail": detail})

    async def reset(self, *, reason: str = "retry") -> None:
        """Tell clients to drop this response's text so far: it starts again."""
        self._buffer.clear()
        self._shown.clear()
        await self.flush()
        await self._publish(EventKind.RESET, {"attempt": self._attempt, "reason": reason})

    @property
    def text(self) -> str:
        """The answer's text as clients have it (once flushed): every token since the
        last reset."""
        return "".join(self._shown)

    async def done(
        self, message_id: UUID, usage: dict[str, int], *, finish_reason: str | None = None
    ) -> None:
        """``finish_reason``: why the answer ended early (``cancelled``); none when whole."""
        await self.flush()
        data: dict[str, Any] = {"message_id": str(message_id), "usage": usage}
        if finish_reason is not None:
            data["finish_reason"] = finish_reason
        await self._publish(EventKind.DONE, data)

    async def error(self, code: str, detail: str, message_id: UUID | None = None) -> None:
        await self.flush()
        data: dict[str, Any] = {"code": code, "detail": detail}
        if message_id is not None:
            data["message_id"] = str(message_id)
        await self._publish(EventKind.ERROR, data)

    async def token(self, text: str) -> None:
        if not text:
            return
        self._buffer.append(text)
        self._shown.append(text)
        now = time.monotonic()
        if now - self._flushed_at >= self._coalesce:
            await self.flush()
        elif self._timer is None:
            wait = self._coalesce - (now - self._flushed_at)
            self._timer = asyncio.get_running_loop().call_later(wait, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.flush())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Send buffered text now; also waits for flushes the timer started."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer:
            text = "".join(self._buffer)
            self._buffer.clear()
            self._flushed_at = time.monotonic()
            if self.first_token_at is None:
                self.first_token_at = self._flushed_at
            await self._publish(EventKind.TOKEN, {"text": text})
            await asyncio.sleep(0)  # let waiting requests (a client's stream) run first
        if self._pending:  # seldom: only while a timer's flush runs
            others = self._pending - {asyncio.current_task()}
            if others:
                await asyncio.gather(*others)
