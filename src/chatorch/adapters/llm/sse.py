"""Reading a model's streamed answer raw: SSE ``data:`` lines in, JSON objects out.

Both model SDKs would build a pydantic model for every event; for a streamed answer
that cost more CPU than all the rest of it (docs/performance.md). The providers read
the stream here, with orjson, handing on what one network read brought at once.
"""

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import aiohttp
import orjson

from chatorch.domain.llm import Chunk


async def data_batches(response: aiohttp.ClientResponse) -> AsyncIterator[list[dict[str, Any]]]:
    """The JSON objects of an SSE response's ``data:`` lines, up to ``[DONE]`` or the
    end, as many at a time as each network read brought.

    A fast server packs many events into one read; handing them on together saves
    every layer above its per-event work, while a slow one still streams event by
    event. A malformed line ends the stream after the events before it.
    """
    pending = b""
    async for data in response.content.iter_any():
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
