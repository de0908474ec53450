"""Search: the current user's messages that hold some words, best first, in pages."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from chatorch.api.deps import ContainerDep, UserDep
from chatorch.api.schemas import NOT_BLANK
from chatorch.ports.search import SearchHit

router = APIRouter(prefix="/v1/search", tags=["search"])

MAX_QUERY_CHARS = 500
# A place in the ranking: "o" and the number of hits before it. Its pattern is in the
# schema, so a cursor not of this API's making is refused there, like any bad parameter.
CURSOR = r"^o[0-9]{1,9}$"


class SearchItem(BaseModel):
    chat_id: UUID
    message_id: UUID
    chat_title: str
    role: Literal["user", "assistant"]
    snippet: str = Field(description="words around the matches, each match in **bold**")
    created_at: datetime

    @classmethod
    def of(cls, hit: SearchHit) -> "SearchItem":
        return cls(
            chat_id=hit.chat_id,
            message_id=hit.message_id,
            chat_title=hit.chat_title,
            role=hit.role.value,
            snippet=hit.snippet,
            created_at=hit.created_at,
        )


class SearchPage(BaseModel):
    items: list[SearchItem]
    next: str | None = Field(description="the URL of the next page; null on the last one")


@router.get("", response_model=SearchPage)
async def search(
    c: ContainerDep,
    user: UserDep,
    response: Response,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            pattern=NOT_BLANK,
            description="words, all of which a message must hold; no operators",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR, description="from `next` of the page before")
    ] = None,
) -> SearchPage:
    """The user's messages holding every word of ``q``: those with the words as a
    phrase first, then by relevance. A page that is not the last links the next, in
    ``next`` and in ``Link``."""
    offset = 0 if cursor is None else _offset(cursor)
    async with c.store.transaction() as tx:
        hits = await tx.search.search(user.id, q, limit=limit + 1, offset=offset)
    next_url = None
    if len(hits) > limit:
        query = urlencode({"q": q, "limit": limit, "cursor": _cursor(offset + limit)})
        next_url = f"/v1/search?{query}"
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return SearchPage(items=[SearchItem.of(hit) for hit in hits[:limit]], next=next_url)


def _cursor(offset: int) -> str:
    return f"o{offset}"


def _offset(cursor: str) -> int:
    """The offset a cursor (already checked against ``CURSOR``) stands for."""
    return int(cursor[1:])
