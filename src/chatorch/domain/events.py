"""What travels on the bus: work items for workers, stream events for clients.

Over NATS both cross as JSON (``to_json`` / ``from_json``). In one process, work items
still cross the in-process bus as JSON, but stream events travel as these immutable
objects, unencoded: encoding and decoding each token cost more than it caught (ADR 0001,
amended). Their JSON forms are round-tripped in the unit tests and the bus contract
suite runs against NATS, so a field that does not survive JSON still fails a test.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson

from chatorch.domain.ids import parse_id


def compact(raw: bytes) -> bytes:
    """``raw`` in an allocation of its own length.

    orjson hands its output back in the 4 KB buffer it wrote it into, so a 300-byte
    value held in memory costs 4 KB; the in-process bus holds work items and the
    in-memory cache its values for as long as they wait or live.
    """
    return bytes(memoryview(raw))


class EventKind(StrEnum):
    TOKEN = "token"
    STEP = "step"
    RESET = "reset"
    DONE = "done"
    ERROR = "error"


@dataclass(slots=True, frozen=True)
class StreamEvent:
    """One event of one response; ``seq`` orders the events of a response."""

    kind: EventKind
    chat_id: UUID
    response_id: UUID
    seq: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.kind in (EventKind.DONE, EventKind.ERROR)

    @property
    def cursor(self) -> "Cursor":
        return Cursor(self.response_id, self.seq)

    def payload(self) -> dict[str, Any]:
        """The object a client sees in the event's ``data:`` line."""
        return {"response_id": str(self.response_id), "seq": self.seq, **self.data}

    def to_json(self) -> bytes:
        return compact(
            orjson.dumps(
                {
                    "kind": self.kind.value,
                    "chat_id": str(self.chat_id),
                    "response_id": str(self.response_id),
                    "seq": self.seq,
                    "data": self.data,
                }
            )
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> "StreamEvent":
        obj = orjson.loads(raw)
        return cls(
            kind=EventKind(obj["kind"]),
            chat_id=UUID(obj["chat_id"]),
            response_id=UUID(obj["response_id"]),
            seq=int(obj["seq"]),
            data=obj["data"],
        )


@dataclass(slots=True, frozen=True)
class Cursor:
    """A position in a chat's event log: the event ``seq`` of ``response_id``.

    ``seq = -1`` means "before the first event of that response".
    """

    response_id: UUID
    seq: int

    def __str__(self) -> str:
        return f"{self.response_id}:{self.seq}"

    @classmethod
    def parse(cls, text: str) -> "Cursor | None":
        """Parse an SSE event id ``<response_id>:<seq>``; None if malformed."""
        rid, sep, seq = text.strip().rpartition(":")
        response_id = parse_id(rid)
        if not sep or response_id is None or not seq.isdigit():
            return None
        return cls(response_id, int(seq))

    def precedes(self, event: StreamEvent) -> bool:
        """True when ``event`` is a later event of the same response."""
        return event.response_id == self.response_id and event.seq > self.seq


class WorkKind(StrEnum):
    ANSWER = "answer"  # answer a question: the ids are the question's
    INGEST = "ingest"  # read an uploaded file: every id is the file's


@dataclass(slots=True, frozen=True)
class WorkItem:
    """Work for a worker; its id (the user message id, or the file id) dedupes
    redelivery. Items of one chat are done in order; a file is a chat of its own."""

    message_id: UUID
    chat_id: UUID
    response_id: UUID
    kind: WorkKind = WorkKind.ANSWER

    @classmethod
    def ingest(cls, file_id: UUID) -> "WorkItem":
        return cls(file_id, file_id, file_id, WorkKind.INGEST)

    def to_json(self) -> bytes:
        fields = {
            "message_id": str(self.message_id),
            "chat_id": str(self.chat_id),
            "response_id": str(self.response_id),
        }
        if self.kind is not WorkKind.ANSWER:  # answers, the bulk, stay as they were
            fields["kind"] = self.kind.value
        return compact(orjson.dumps(fields))

    @classmethod
    def from_json(cls, raw: bytes | str) -> "WorkItem":
        obj = orjson.loads(raw)
        kind = WorkKind(obj.get("kind", WorkKind.ANSWER))
        return cls(UUID(obj["message_id"]), UUID(obj["chat_id"]), UUID(obj["response_id"]), kind)
