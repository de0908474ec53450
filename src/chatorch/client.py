"""A small client of chatorch's public HTTP API, for ``chatorch chat`` and scripts."""

import json
from typing import TextIO

import httpx
from httpx_sse import aconnect_sse


class ClientError(Exception):
    """The server refused a request or could not be reached."""


async def converse(url: str, text: str, *, chat_id: str | None, out: TextIO, err: TextIO) -> bool:
    """Send ``text``, write tokens to ``out`` as they arrive and steps to ``err``.

    Returns True when the answer completed, False when it ended with an error.
    """
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as http:
        try:
            if chat_id is None:
                chat_id = (await _call(http, "POST", "/v1/chats", {}))["id"]
                err.write(f"chat {chat_id}\n")
            accepted = await _call(http, "POST", f"/v1/chats/{chat_id}/messages", {"content": text})
            return await _follow(http, accepted["events_url"], out=out, err=err)
        except httpx.TransportError as error:
            raise ClientError(f"cannot reach {url}: {error}") from error


async def _call(http: httpx.AsyncClient, method: str, path: str, body: object) -> dict[str, str]:
    response = await http.request(method, path, json=body)
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ClientError(f"{method} {path}: HTTP {response.status_code}: {detail}")
    result: dict[str, str] = response.json()
    return result


async def _follow(http: httpx.AsyncClient, events_url: str, *, out: TextIO, err: TextIO) -> bool:
    mid_line = False  # tokens printed since the last newline
    async with aconnect_sse(http, "GET", events_url) as source:
        async for sse in source.aiter_sse():
            if not sse.data:
                continue  # e.g. the opening `retry:` advice
            data = json.loads(sse.data)
            if sse.event == "token":
                out.write(data["text"])
                out.flush()
                mid_line = True
            elif sse.event == "step":
                if mid_line:
                    out.write("\n")
                    out.flush()
                    mid_line = False
                err.write(f"[{data['stage']}] {json.dumps(data['detail'])}\n")
            elif sse.event == "reset":
                err.write(f"\n[reset] attempt {data['attempt']}: starting the answer again\n")
            elif sse.event == "done":
                if mid_line:
                    out.write("\n")
                return True
            elif sse.event == "error":
                err.write(f"\n[error] {data['code']}: {data['detail']}\n")
                return False
    raise ClientError("the event stream ended before the answer did")
