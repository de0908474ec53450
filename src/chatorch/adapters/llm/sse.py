"""Reading a model's streamed answer raw: SSE ``data:`` lines in, JSON objects out.

Both model SDKs would build a pydantic model for every event; for a streamed answer
that cost more CPU than all the rest of it (docs/performance.md). The providers let
their SDK send the request and raise its errors, and read the stream here, with
orjson, handing on what one network read brought at once.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx2
import orjson

from chatorch.domain.llm import Chunk

_JSON_CONTENT = {"Content-Type": "application/json"}


@asynccontextmanager
async def posted(
    post: Callable[..., Awaitable[object]], path: str, body: dict[str, object], stream_cls: type
) -> AsyncIterator[httpx2.Response]:
    """The unread response to ``body`` sent with an SDK client's ``post``; closed after.

    The SDK's typed ``create`` would walk every parameter against its TypedDicts and
    encode the body in Python, about a millisecond of CPU per call for a body that is
    already plain JSON (docs/performance.md). ``post`` keeps what the SDK is for here —
    base URL, auth and version headers, timeouts, HTTP errors as its ``APIStatusError``
    — and sends the body as orjson made it. ``cast_to=httpx2.Response`` asks for the
    response itself, unread; ``stream_cls`` only satisfies the signature.
    """
    sent = post(
        path,
        cast_to=httpx2.Response,
        content=orjson.dumps(body),
        options={"headers": _JSON_CONTENT},
        stream=True,
        stream_cls=stream_cls,
    )
    response = cast(httpx2.Response, await sent)
    try:
        yield response
    finally:
        await response.aclose()


async def data_batches(response: httpx2.Response) -> AsyncIterator[list[dict[str, Any]]]:
    """The JSON objects of an SSE response's ``data:`` lines, up to ``[DONE]`` or the
    end, as many at a time as each network read brought.

    A fast server packs many events into one read; handing them on together saves
    every layer above its per-event work, while a slow one still streams event by
    event. A malformed line ends the stream after the events before it.
    """
    pending = b""
    async for data in response.aiter_bytes():
        *lines, pending = (pending + data).split(b"\n")
        batch: list[dict[str, Any]] = []
        for line in lines:
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, event names
            payload = line[5:].strip()
            if payload == b"[DONE]":
                if batch:
                    yield batch
                return
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                if batch:
                    yield batch
                raise
            if isinstance(event, dict):
                batch.append(event)
        if batch:
            yield batch


def error_text(error: object) -> str:
    """What an error event inside a stream says: its ``message``, or all of it."""
    if isinstance(error, dict):
        return str(error.get("message") or error)[:500]
    return str(error)[:500]


def joined(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """``chunks`` with each run of consecutive text chunks as one; text that came
    before an error is handed on before the error is raised."""
    text: list[str] = []
    try:
        for chunk in chunks:
            if chunk.text:
                text.append(chunk.text)
                continue
            if text:
                yield Chunk(text="".join(text))
                text = []
            yield chunk
    except Exception:
        if text:
            yield Chunk(text="".join(text))
        raise
    if text:
        yield Chunk(text="".join(text))
