"""Export: the whole of one of the current user's chats, as Markdown or JSON, to save."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from chatorch.api.deps import ContainerDep, UserDep
from chatorch.api.schemas import ChatDetail, MessageOut
from chatorch.domain.entities import Chat, utcnow
from chatorch.pipeline.request import owned_chat
from chatorch.services import transcripts

router = APIRouter(prefix="/v1/chats", tags=["chats"])

MARKDOWN = "text/markdown; charset=utf-8"
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')  # no folders, nothing shells mind
NAME_CHARS = 60


class ChatExport(BaseModel):
    chat: ChatDetail
    messages: list[MessageOut]
    exported_at: datetime


@router.get(
    "/{chat_id}/export",
    responses={
        200: {
            "description": "the chat as an attachment: Markdown, or JSON (`format=json`)",
            "model": ChatExport,
            "content": {"text/markdown": {"schema": {"type": "string"}}},
        }
    },
)
async def export_chat(
    chat_id: UUID,
    c: ContainerDep,
    user: UserDep,
    format_: Annotated[
        Literal["md", "json"],
        Query(alias="format", description="`md` (Markdown, the default) or `json`"),
    ] = "md",
) -> Response:
    """The chat with every message, as a file to download: Markdown to read (each turn
    with its role and time, the tools an answer called, the sources it cited), or JSON
    with every message's metadata."""
    async with c.store.transaction() as tx:
        chat = await owned_chat(tx, user, chat_id)
        messages = await tx.chats.list_messages(chat_id)
        summary = await tx.summaries.get_summary(chat_id)
    exported_at = utcnow()
    if format_ == "md":
        body = transcripts.markdown(chat, messages, exported_at=exported_at)
        media_type = MARKDOWN
    else:
        document = ChatExport(
            chat=ChatDetail.of(chat, summary),
            messages=[MessageOut.of(m) for m in messages],
            exported_at=exported_at,
        )
        body, media_type = document.model_dump_json(), "application/json"
    disposition = attachment(chat, format_)
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def attachment(chat: Chat, extension: str) -> str:
    """``Content-Disposition`` naming the file after the chat's title and day: a plain
    ASCII ``filename`` for every client, the title as written in ``filename*`` (RFC 6266)."""
    day = chat.created_at.strftime("%Y-%m-%d")
    title = " ".join(_UNSAFE_IN_NAME.sub(" ", chat.title).split())[:NAME_CHARS].strip(" .")
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = _NOT_ASCII_WORD.sub("-", ascii_title).strip("-") or "chat"
    plain = f"{slug}-{day}.{extension}"
    written = f"{title or 'chat'} {day}.{extension}"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(written, safe='')}"
