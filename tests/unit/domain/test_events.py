"""Events and work items keep every field through their JSON form, which NATS carries."""

from typing import Any

import pytest

from chatorch.domain.events import EventKind, StreamEvent, WorkItem, WorkKind
from chatorch.domain.ids import new_id

DATA: dict[EventKind, dict[str, Any]] = {
    EventKind.TOKEN: {"text": 'Zürich — 数 "quoted"\n✓'},
    EventKind.STEP: {"stage": "think", "detail": {"tools": ["calculator"], "ms": 0.25}},
    EventKind.RESET: {"attempt": 3},
    EventKind.DONE: {"message_id": str(new_id()), "usage": {"prompt_tokens": 1}},
    EventKind.ERROR: {"code": "llm_error", "detail": None},
}


@pytest.mark.parametrize("kind", list(EventKind))
def test_a_stream_event_of_each_kind_survives_its_json_form(kind: EventKind) -> None:
    event = StreamEvent(kind, new_id(), new_id(), 41, DATA[kind])
    assert StreamEvent.from_json(event.to_json()) == event


def test_a_work_item_survives_its_json_form() -> None:
    item = WorkItem(message_id=new_id(), chat_id=new_id(), response_id=new_id())
    assert WorkItem.from_json(item.to_json()) == item


def test_a_file_to_read_is_work_of_its_own_kind_and_lane() -> None:
    file_id = new_id()
    item = WorkItem.ingest(file_id)
    assert (item.message_id, item.chat_id, item.response_id) == (file_id,) * 3
    assert WorkItem.from_json(item.to_json()) == item
    assert WorkItem.from_json(item.to_json()).kind is WorkKind.INGEST
    answer = WorkItem(new_id(), new_id(), new_id())
    assert b"kind" not in answer.to_json()  # answers' items are as they always were
