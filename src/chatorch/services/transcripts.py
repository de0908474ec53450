"""A chat written out as one Markdown document: what ``GET …/export?format=md`` sends.

Each turn under a heading with its role and time; an answer's text as the model wrote
it (Markdown already), then the tools it called and the sources it cited. What the
chat's people wrote can hold any Markdown; only the parts written here from data — the
title, file names — are escaped, and code goes in fences longer than any it holds.
"""

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from chatorch.domain.entities import Chat, Message, Role, Status

UNTITLED = "Untitled chat"
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!~])")  # what would start markup inline
_BACKTICKS = re.compile(r"`+")


def markdown(chat: Chat, messages: Sequence[Message], *, exported_at: datetime) -> str:
    """The chat with ``messages`` (in conversation order) as a Markdown document."""
    parts = [
        f"# {escape(chat.title) or UNTITLED}",
        f"Chat `{chat.id}` · started {_time(chat.created_at)} · exported "
        f"{_time(exported_at)} · {len(messages)} {'message' if len(messages) == 1 else 'messages'}",
    ]
    for message in messages:
        parts.append("---")
        parts.extend(_turn(message))
    return "\n\n".join(parts) + "\n"


def _turn(message: Message) -> Iterable[str]:
    role = "User" if message.role is Role.USER else "Assistant"
    heading = f"## {role} · {_time(message.created_at)}"
    model = message.metadata.get("model")
    if message.role is Role.ASSISTANT and isinstance(model, str) and model:
        heading += f" · {escape(model)}"
    yield heading
    if message.content.strip():
        yield message.content.strip("\n")
    if message.role is Role.ASSISTANT and message.status is Status.FAILED:
        error = message.metadata.get("error")
        reason = error.get("detail") if isinstance(error, dict) else None
        yield "> This answer failed" + (f": {escape(str(reason))}" if reason else ".")
    for call in _dicts(message.metadata.get("tool_calls")):
        yield from _tool_call(call)
    citations = list(_dicts(message.metadata.get("citations")))
    if citations:
        yield "**Sources**"
        yield "\n".join(f"{n}. {_source(c)}" for n, c in enumerate(citations, start=1))


def _tool_call(call: dict[str, Any]) -> Iterable[str]:
    outcome = "ok" if call.get("ok", True) else "failed"
    duration = call.get("duration_ms")
    if isinstance(duration, int | float):
        outcome += f", {duration:g} ms"
    yield f"**Tool call** {code(str(call.get('name', '?')))} ({outcome})"
    arguments = call.get("arguments")
    if arguments not in (None, "", {}):
        yield fenced(_json(arguments), "json")
    if "output" in call:
        yield fenced(str(call["output"]), "text")


def _source(citation: dict[str, Any]) -> str:
    text = escape(str(citation.get("name") or citation.get("file_id") or "a file"))
    page, chunk = citation.get("page"), citation.get("chunk")
    if isinstance(page, int):
        text += f", page {page}"
    elif isinstance(chunk, int):
        text += f", part {chunk + 1}"  # as the answer itself names it
    score = citation.get("score")
    if isinstance(score, int | float):
        text += f" (score {score:.2f})"
    return text


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    """The objects of a metadata list, which old or foreign answers may lack."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def escape(text: str) -> str:
    """``text`` on one line, every character that would start markup taken literally."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def code(text: str) -> str:
    """``text`` as inline code, however many backticks it holds itself."""
    text = " ".join(text.split())
    fence = "`" * (_longest_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, info: str = "") -> str:
    """``text`` as a fenced code block whose fence no line of it can close."""
    fence = "`" * max(3, _longest_run(text) + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _longest_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)
