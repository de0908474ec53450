"""The Sequencer puts each response's events in order and drops duplicates."""

import time

from chatorch.api.ordering import Sequencer
from chatorch.domain.events import Cursor, EventKind, StreamEvent
from chatorch.domain.ids import new_id

CHAT = new_id()


def _events(response: object, *seqs: int, kind: EventKind = EventKind.TOKEN) -> list[StreamEvent]:
    assert isinstance(response, type(CHAT))
    return [StreamEvent(kind, CHAT, response, seq, {"text": str(seq)}) for seq in seqs]


def _seqs(events: list[StreamEvent]) -> list[int]:
    return [e.seq for e in events]


class TestSequencer:
    def test_in_order_events_pass_straight_through(self) -> None:
        sequencer, rid = Sequencer(), new_id()
        assert [_seqs(sequencer.push(e)) for e in _events(rid, 4, 5, 6)] == [[4], [5], [6]]

    def test_duplicates_are_dropped(self) -> None:
        sequencer, rid = Sequencer(), new_id()
        out = [sequencer.push(e) for e in _events(rid, 0, 1, 1, 0, 2)]
        assert _seqs([e for batch in out for e in batch]) == [0, 1, 2]

    def test_an_early_event_waits_for_the_gap_to_fill(self) -> None:
        sequencer, rid = Sequencer(), new_id()
        zero, one, two, three = _events(rid, 0, 1, 2, 3)
        assert _seqs(sequencer.push(zero)) == [0]
        assert sequencer.push(two) == []
        assert sequencer.push(three) == []
        assert sequencer.next_deadline() is not None
        assert _seqs(sequencer.push(one)) == [1, 2, 3]
        assert sequencer.next_deadline() is None

    def test_a_gap_that_never_fills_is_skipped_after_the_wait(self) -> None:
        sequencer, rid = Sequencer(gap_wait=0.05), new_id()
        zero, _, two = _events(rid, 0, 1, 2)
        sequencer.push(zero)
        sequencer.push(two)
        assert sequencer.expire() == []  # too soon
        assert not sequencer.skipped(rid)
        time.sleep(0.06)
        assert _seqs(sequencer.expire()) == [2]
        assert sequencer.skipped(rid)  # its done must bring the whole text

    def test_an_overdue_gap_names_where_to_fill_from(self) -> None:
        sequencer, rid = Sequencer(gap_wait=0.05), new_id()
        zero, one, two = _events(rid, 0, 1, 2)
        sequencer.push(zero)
        sequencer.push(two)
        assert sequencer.overdue() == []
        time.sleep(0.06)
        assert sequencer.overdue() == [Cursor(rid, 0)]
        assert _seqs(sequencer.push(one)) == [1, 2]  # the log's copy fills it
        assert sequencer.overdue() == []

    def test_a_cursor_drops_what_the_client_already_has(self) -> None:
        rid = new_id()
        sequencer = Sequencer(after=Cursor(rid, 2))
        out = [sequencer.push(e) for e in _events(rid, 1, 2, 3)]
        assert _seqs([e for batch in out for e in batch]) == [3]

    def test_responses_are_ordered_independently(self) -> None:
        sequencer, a, b = Sequencer(), new_id(), new_id()
        sequencer.push(_events(a, 0)[0])
        assert sequencer.push(_events(a, 2)[0]) == []
        assert _seqs(sequencer.push(_events(b, 0)[0])) == [0]

    def test_a_reset_starts_a_new_attempt_past_any_gap(self) -> None:
        rid = new_id()
        sequencer = Sequencer(after=Cursor(rid, 5))
        (reset,) = _events(rid, 1 << 20, kind=EventKind.RESET)
        assert _seqs(sequencer.push(reset)) == [1 << 20]
        assert _seqs(sequencer.push(_events(rid, (1 << 20) + 1)[0])) == [(1 << 20) + 1]
        assert sequencer.push(reset) == []  # a duplicate reset changes nothing
