"""One response's events, in order, from its first to its ``done`` or ``error``: what
a route that answers a question in its own response (the OpenAI-compatible API) reads
instead of handing the client an event stream.

As an event stream does (``events.py``): events come from the bus's log and then live,
put in ``seq`` order, gaps filled from the log; and an answer stored while its events
went missing (the log aged out, the bus cut the subscription) still ends the response.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from chatorch.api.ordering import Sequencer
from chatorch.container import Container
from chatorch.domain.entities import Message, Status
from chatorch.domain.errors import ServiceUnavailable
from chatorch.domain.events import Cursor, EventKind, StreamEvent


class AnswerFailed(ServiceUnavailable):
    """The answer ended in an ``error`` event: its code and detail say why."""

    code = "answer_failed"

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(str(data.get("detail") or "the answer failed"))
        self.reason = str(data.get("code") or self.code)  # the error event's own code


async def answer_events(c: Container, question: Message) -> AsyncIterator[StreamEvent]:
    """The events of ``question``'s response, ending with its ``done`` or ``error``."""
    after = Cursor(question.response_id, -1)
    sequencer = Sequencer(after=after)
    idle = c.settings.heartbeat_seconds
    async with c.bus.subscribe(question.chat_id, after=after) as subscription:
        while True:
            deadline = sequencer.next_deadline()
            wait = idle if deadline is None else max(0.0, deadline - time.monotonic())
            ready: list[StreamEvent] = []
            try:
                async with asyncio.timeout(wait):
                    event = await anext(subscription)
                ready.extend(sequencer.push(event))
                for more in subscription.ready():
                    ready.extend(sequencer.push(more))
            except TimeoutError:
                ready.extend(await _fill_gaps(c, question, sequencer))
                if deadline is None and (ending := await _stored_ending(c, question)):
                    ready.append(ending)  # answered, but its last events never came
            except StopAsyncIteration:
                ending = await _stored_ending(c, question)
                if ending is None:
                    raise ServiceUnavailable("the answer's events stopped; ask again") from None
                ready.append(ending)
            for item in ready:
                if item.response_id != question.response_id:
                    continue
                yield item
                if item.terminal:
                    return


async def _fill_gaps(c: Container, question: Message, sequencer: Sequencer) -> list[StreamEvent]:
    ready: list[StreamEvent] = []
    for before_gap in sequencer.overdue():
        found = await c.bus.logged(
            question.chat_id, before_gap.response_id, after_seq=before_gap.seq
        )
        for event in found:
            ready.extend(sequencer.push(event))
    return ready + sequencer.expire()


async def _stored_ending(c: Container, question: Message) -> StreamEvent | None:
    """The last event of the stored answer, made from it; None while there is none."""
    async with c.store.transaction(durable=False, atomic=False) as tx:
        _, turn = await tx.chats.chat_turn(question.chat_id, question.response_id)
    if len(turn) < 2:
        return None
    answer = turn[1]
    if answer.status is Status.COMPLETE:
        data = {
            "message_id": str(answer.id),
            "usage": answer.metadata.get("usage", {}),
            "content": answer.content,  # the tokens it stands for never came
        }
        if reason := answer.metadata.get("finish_reason"):
            data["finish_reason"] = reason
        return StreamEvent(EventKind.DONE, answer.chat_id, answer.response_id, 0, data)
    error = answer.metadata.get("error", {"code": "failed", "detail": "the answer failed"})
    return StreamEvent(EventKind.ERROR, answer.chat_id, answer.response_id, 0, dict(error))
