"""Sequencer: delivers each response's events in ``seq`` order, each exactly once.

Events may arrive twice (a replay overlapping live delivery, a redelivered publish)
or out of order (two publishers, two bus paths). Duplicates are dropped; an early
event waits for the gap before it to fill, but only for ``gap_wait`` seconds — then
the caller fills the gap from the event log (``overdue``), and what the log lacks too
is skipped (``expire``), so a lost event never stalls a stream — and the response's
``done`` then brings the whole text, so the client never keeps a hole.
"""

import time
from dataclasses import dataclass, field
from uuid import UUID

from chatorch.domain.events import Cursor, EventKind, StreamEvent


@dataclass(slots=True)
class _Response:
    expected: int
    early: dict[int, StreamEvent] = field(default_factory=dict)
    waiting_since: float | None = None  # monotonic s the oldest gap opened
    skipped: bool = False  # a gap was given up: the client's text lacks a piece


class Sequencer:
    def __init__(self, *, after: Cursor | None = None, gap_wait: float = 0.5) -> None:
        self._gap_wait = gap_wait
        self._responses: dict[UUID, _Response] = {}
        if after is not None:
            self._responses[after.response_id] = _Response(expected=after.seq + 1)

    def push(self, event: StreamEvent) -> list[StreamEvent]:
        """Take an event; return those now ready, in order."""
        state = self._responses.get(event.response_id)
        if state is None:  # first sight of a response: it starts where we joined it
            state = self._responses[event.response_id] = _Response(expected=event.seq)
        if event.kind is EventKind.RESET and event.seq > state.expected:
            # A new attempt numbers from a fresh block: what the old one left out is moot.
            state.expected, state.waiting_since = event.seq, None
            state.early = {s: e for s, e in state.early.items() if s > event.seq}
        if event.seq < state.expected or event.seq in state.early:
            return []
        if event.seq > state.expected:
            state.early[event.seq] = event
            if state.waiting_since is None:
                state.waiting_since = time.monotonic()
            return []
        ready = [event]
        state.expected += 1
        ready.extend(self._release(state))
        return ready

    def _release(self, state: _Response) -> list[StreamEvent]:
        ready = []
        while state.expected in state.early:
            ready.append(state.early.pop(state.expected))
            state.expected += 1
        state.waiting_since = time.monotonic() if state.early else None
        return ready

    def next_deadline(self) -> float | None:
        """When the oldest open gap should be given up (monotonic s), if any."""
        waits = [s.waiting_since for s in self._responses.values() if s.waiting_since is not None]
        return min(waits) + self._gap_wait if waits else None

    def overdue(self) -> list[Cursor]:
        """For each gap open longer than ``gap_wait``: the last event delivered before it."""
        now = time.monotonic()
        return [
            Cursor(response_id, state.expected - 1)
            for response_id, state in self._responses.items()
            if state.waiting_since is not None and now - state.waiting_since >= self._gap_wait
        ]

    def expire(self) -> list[StreamEvent]:
        """Skip gaps older than ``gap_wait``; return the events that were behind them."""
        now = time.monotonic()
        ready: list[StreamEvent] = []
        for state in self._responses.values():
            if state.waiting_since is not None and now - state.waiting_since >= self._gap_wait:
                state.expected = min(state.early)
                state.skipped = True
                ready.extend(self._release(state))
        return ready

    def skipped(self, response_id: UUID) -> bool:
        """Whether a gap in the response's events was given up on: its ``done`` must
        then carry the whole text (``with_content``), or the client shows a hole."""
        state = self._responses.get(response_id)
        return state is not None and state.skipped
