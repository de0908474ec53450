"""Files: upload (multipart/form-data), list, read, download and delete the current
user's files. Anyone else's file is as absent as none (404).

An upload is answered as soon as its bytes and row are stored, ``processing``, and its
reading queued on the bus: a worker reads its text (``WorkKind.INGEST``), and the file
becomes ``ready`` or ``failed``.
"""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

import structlog
from fastapi import APIRouter, File, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from chatorch.api.deps import ContainerDep, UserDep
from chatorch.domain.entities import FileMeta, FileStatus
from chatorch.domain.errors import BusUnavailable
from chatorch.domain.events import WorkItem
from chatorch.services.extract import ACCEPTED
from chatorch.settings import Settings

log = structlog.get_logger(__name__)

PATH = "/v1/files"
# Bytes of multipart framing (boundaries, part headers, a long file name) a request may
# carry on top of a file of CHATORCH_MAX_FILE_BYTES: the body limit of PATH is the sum.
MULTIPART_ALLOWANCE = 64 * 1024

router = APIRouter(prefix=PATH, tags=["files"])

# The types a file part may declare, in the OpenAPI document (multipart ``encoding``).
_UPLOAD_ENCODING = {
    "requestBody": {
        "content": {
            "multipart/form-data": {"encoding": {"file": {"contentType": ", ".join(ACCEPTED)}}}
        }
    }
}


def body_limit(settings: Settings) -> int:
    """The largest request body ``POST /v1/files`` reads."""
    return settings.max_file_bytes + MULTIPART_ALLOWANCE


class FileOut(BaseModel):
    id: UUID
    name: str
    bytes: int = Field(description="its size")
    media_type: str = Field(description="how it is read: " + ", ".join(ACCEPTED))
    sha256: str = Field(description="hex SHA-256 of its bytes")
    status: Literal["processing", "ready", "failed"]
    error: str | None = Field(default=None, description="only when failed: why it is unreadable")
    created_at: datetime

    @classmethod
    def of(cls, file: FileMeta) -> "FileOut":
        return cls(
            id=file.id,
            name=file.name,
            bytes=file.size,
            media_type=file.media_type,
            sha256=file.sha256,
            status=file.status.value,
            error=file.error if file.status is FileStatus.FAILED else None,
            created_at=file.created_at,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FileOut,
    response_model_exclude_none=True,
    responses={200: {"model": FileOut, "description": "the same bytes were uploaded before"}},
    openapi_extra=_UPLOAD_ENCODING,
)
async def upload_file(
    file: Annotated[
        UploadFile,
        File(
            description="plain text, Markdown, HTML or PDF",
            # Bytes, at least one: so the schema tells clients (and fuzzers) what is a file.
            json_schema_extra={"minLength": 1, "format": "binary"},
        ),
    ],
    c: ContainerDep,
    user: UserDep,
    response: Response,
) -> FileOut:
    """Store a file and read its text after answering (``status`` says how far it got).

    The same bytes uploaded again by the same user are the file already there: 200
    with it, instead of 201 with a new one.
    """
    accepted = await c.artifacts.accept(user.id, file)
    stored = accepted.file
    if stored.status is FileStatus.PROCESSING:  # new, or left processing by a crash
        try:
            await c.bus.enqueue(WorkItem.ingest(stored.id))  # a worker reads it
        except BusUnavailable as error:
            raise BusUnavailable(
                f"the file is stored but could not be queued for reading ({error.detail});"
                " upload it again to retry"
            ) from None
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"{PATH}/{stored.id}"
    return FileOut.of(stored)


@router.get("", response_model=list[FileOut], response_model_exclude_none=True)
async def list_files(
    c: ContainerDep,
    user: UserDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[UUID | None, Query(description="only files older than this id")] = None,
) -> list[FileOut]:
    """The user's files, newest first; a full page links the next in ``Link``."""
    files = await c.artifacts.list_files(user.id, limit=limit, before=before)
    if len(files) == limit:
        response.headers["Link"] = f'<{PATH}?limit={limit}&before={files[-1].id}>; rel="next"'
    return [FileOut.of(file) for file in files]


@router.get("/{file_id}", response_model=FileOut, response_model_exclude_none=True)
async def get_file(file_id: UUID, c: ContainerDep, user: UserDep) -> FileOut:
    return FileOut.of(await c.artifacts.get(user.id, file_id))


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the bytes as uploaded", "content": dict.fromkeys(ACCEPTED, _BINARY)}
    },
)
async def file_content(file_id: UUID, c: ContainerDep, user: UserDep) -> StreamingResponse:
    """The file's bytes as uploaded, as a download (``Content-Disposition: attachment``)."""
    file, pieces = await c.artifacts.content(user.id, file_id)
    headers = {
        "Content-Type": file.media_type,  # as is: Starlette would add a charset to text/*
        "Content-Length": str(file.size),
        "Content-Disposition": _attachment(file.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",  # an uploaded page never runs as this site
    }
    return StreamingResponse(pieces, headers=headers)


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(file_id: UUID, c: ContainerDep, user: UserDep) -> Response:
    """Delete the file: its bytes, its chunks and its links to chats."""
    await c.artifacts.delete(user.id, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _attachment(name: str) -> str:
    """``Content-Disposition`` for a download named ``name`` (RFC 6266): an ASCII
    fallback, and the exact name percent-encoded as UTF-8 for clients that read it."""
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
