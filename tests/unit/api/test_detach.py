"""Detached stream bodies: pumped to their end, a ``Last`` chunk ending them in one write."""

from collections.abc import AsyncIterator
from typing import Any

from chatorch.api.detach import Last, _pump


class Client:
    """An ASGI peer that stays connected and records what it is sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": True}  # never leaves

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def body_of(*chunks: bytes, closed: list[str]) -> AsyncIterator[bytes]:
    async def chunks_then_more() -> AsyncIterator[bytes]:
        try:
            for chunk in chunks:
                yield chunk
            yield b"never asked for after a Last chunk"
        finally:
            closed.append("closed")

    return chunks_then_more()


async def test_a_last_chunk_is_sent_as_the_end_of_the_body_and_the_body_closed() -> None:
    client, closed = Client(), []
    await _pump(
        body_of(b"id: 1\n\n", Last(b"id: 2\n\n"), closed=closed), client.receive, client.send
    )
    assert [(m["body"], m["more_body"]) for m in client.sent] == [
        (b"id: 1\n\n", True),
        (b"id: 2\n\n", False),
    ]
    assert closed == ["closed"]


async def test_a_body_that_just_ends_is_ended_with_an_empty_chunk() -> None:
    async def two() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    client = Client()
    await _pump(two(), client.receive, client.send)
    assert [(m["body"], m["more_body"]) for m in client.sent] == [
        (b"a", True),
        (b"b", True),
        (b"", False),
    ]
