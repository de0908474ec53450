"""Files through the HTTP API: real multipart uploads, real PDFs, read after answering."""

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import pytest

from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import AccessRole, FileChunk
from chatorch.domain.ids import new_id
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.pdf import pdf

MAX_FILE = 200_000  # bytes: CHATORCH_MAX_FILE_BYTES in these tests
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, max_file_bytes=MAX_FILE)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as http:
        yield http


async def upload(
    client: httpx.AsyncClient,
    data: bytes,
    name: str = "notes.txt",
    media_type: str = "text/plain",
    **headers: str,
) -> httpx.Response:
    return await client.post("/v1/files", files={"file": (name, data, media_type)}, headers=headers)


async def settled(client: httpx.AsyncClient, file_id: str, **headers: str) -> dict[str, Any]:
    """The file once its text has been read (or could not be)."""
    for _ in range(500):
        response = await client.get(f"/v1/files/{file_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "processing":
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"file {file_id} is still processing")


async def chunks_of(settings: Settings, file_id: str) -> list[FileChunk]:
    store = await connect(settings.database_url)
    try:
        async with store.transaction() as tx:
            return list(await tx.files.list_chunks(UUID(file_id)))
    finally:
        await store.close()


def blob_files(settings: Settings) -> list[Path]:
    root = Path(settings.blob_url.removeprefix("file:"))
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


class TestUpload:
    async def test_a_text_file_is_stored_then_read(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        data = b"Meeting notes.\n\nThe launch code is ZX-4471.\n"
        response = await upload(client, data)
        assert response.status_code == 201, response.text
        file = response.json()
        assert response.headers["location"] == f"/v1/files/{file['id']}"
        assert file == {
            "id": file["id"],
            "name": "notes.txt",
            "bytes": len(data),
            "media_type": "text/plain",
            "sha256": hashlib.sha256(data).hexdigest(),
            "status": "processing",
            "created_at": file["created_at"],
        }
        ready = await settled(client, file["id"])
        assert ready == {**file, "status": "ready"}
        [chunk] = await chunks_of(settings, file["id"])
        assert chunk.text == "Meeting notes.\n\nThe launch code is ZX-4471."

    async def test_a_pdf_is_read_page_by_page(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        data = pdf("Chapter one: the harbour.", "Chapter two: the lighthouse keeper Ines.")
        response = await upload(client, data, "book.pdf", "application/octet-stream")
        assert response.status_code == 201
        assert response.json()["media_type"] == "application/pdf"
        assert (await settled(client, response.json()["id"]))["status"] == "ready"
        chunks = await chunks_of(settings, response.json()["id"])
        assert [(c.page, c.text) for c in chunks] == [
            (1, "Chapter one: the harbour."),
            (2, "Chapter two: the lighthouse keeper Ines."),
        ]

    async def test_markdown_and_html_are_read_under_their_headings(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        markdown = b"# Guide\n\nIntro.\n\n## Setup\n\nRun `make`.\n"
        html = b"<h1>Menu</h1><script>steal()</script><p>Soup &amp; bread</p>"
        for data, name, media_type, headings in (
            (markdown, "guide.md", "text/markdown", ["Guide", "Guide > Setup"]),
            (html, "menu.html", "text/html", ["Menu"]),
        ):
            response = await upload(client, data, name, media_type)
            assert (await settled(client, response.json()["id"]))["status"] == "ready"
            chunks = await chunks_of(settings, response.json()["id"])
            assert [c.heading for c in chunks] == headings
            assert "steal" not in " ".join(c.text for c in chunks)

    async def test_the_same_bytes_again_are_the_file_already_there(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await upload(client, b"same bytes", "first.txt")
        again = await upload(client, b"same bytes", "renamed.txt")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["name"] == "first.txt"
        listed = (await client.get("/v1/files")).json()
        assert [f["id"] for f in listed] == [first.json()["id"]]


class TestUnreadable:
    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"%PDF-1.7\n1 0 obj << /Type /Catalog", "the PDF could not be read"),
            (pdf("", ""), "the PDF's 2 page(s) hold no text"),
        ],
        ids=["corrupt", "no-text"],
    )
    async def test_a_pdf_without_readable_text_is_stored_failed_with_why(
        self, client: httpx.AsyncClient, settings: Settings, data: bytes, reason: str
    ) -> None:
        response = await upload(client, data, "scan.pdf", "application/pdf")
        assert response.status_code == 201
        failed = await settled(client, response.json()["id"])
        assert failed["status"] == "failed"
        assert failed["error"].startswith(reason)
        assert await chunks_of(settings, failed["id"]) == []
        content = await client.get(f"/v1/files/{failed['id']}/content")
        assert content.content == data  # the bytes are kept, as uploaded


class TestRefused:
    async def test_a_huge_declared_length_is_refused_before_the_body_is_sent(
        self, client: httpx.AsyncClient
    ) -> None:
        host, port = client.base_url.host, client.base_url.port
        assert port is not None
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                b"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 10000000000\r\n\r\n--b\r\n"
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 413 "), head
        assert b"application/problem+json" in head

    async def test_a_body_without_a_length_is_refused_once_it_passes_the_limit(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        host, port = client.base_url.host, client.base_url.port
        assert port is not None
        reader, writer = await asyncio.open_connection(host, port)
        piece = b"x" * 16_384
        try:
            writer.write(
                b"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                + _chunk(b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"')
                + _chunk(b"\r\nContent-Type: text/plain\r\n\r\n")
            )
            with contextlib.suppress(ConnectionError):  # the server may stop reading
                for _ in range(5 * MAX_FILE // len(piece)):  # and the body never ends
                    writer.write(_chunk(piece))
                    await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 413 "), head
        assert blob_files(settings) == []

    async def test_a_file_over_the_limit_is_refused_whatever_its_framing(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        response = await upload(client, b"x" * (MAX_FILE + 1))
        assert response.status_code == 413
        problem = response.json()
        assert problem["code"] == "file_too_large"
        assert str(MAX_FILE) in problem["detail"]
        assert (await upload(client, b"x" * MAX_FILE)).status_code == 201
        assert len(blob_files(settings)) == 1

    async def test_a_type_chatorch_cannot_read_is_415_listing_those_it_can(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        response = await upload(client, b"\x89PNG\r\n\x1a\n", "photo.png", "image/png")
        assert response.status_code == 415
        assert response.headers["content-type"] == PROBLEM
        detail = response.json()["detail"]
        for accepted in ("text/plain", "text/markdown", "text/html", "application/pdf"):
            assert accepted in detail
        assert blob_files(settings) == []

    async def test_an_empty_file_is_422(self, client: httpx.AsyncClient) -> None:
        response = await upload(client, b"")
        assert response.status_code == 422
        assert response.json()["code"] == "empty_file"

    async def test_a_form_without_a_file_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/files", files={"document": ("a.txt", b"text")})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert "file" in response.json()["detail"]


class TestBodyLimit:
    async def test_uploads_may_be_larger_than_other_bodies_and_only_they(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path, max_body_bytes=4096, max_file_bytes=MAX_FILE)
        async with serve(settings) as client:
            big = b"A line of a long text file.\n" * 5_000  # 140 KB: over the body limit
            response = await upload(client, big)
            assert response.status_code == 201, response.text
            assert (await settled(client, response.json()["id"]))["status"] == "ready"
            chat = await client.post("/v1/chats", json={"title": "x" * 5_000})
            assert chat.status_code == 413
            assert chat.json()["code"] == "body_too_large"


class TestReadingAndDeleting:
    async def test_the_content_is_the_bytes_as_uploaded_as_a_download(
        self, client: httpx.AsyncClient
    ) -> None:
        data = "<h1>Café</h1><script>alert(1)</script>".encode()
        file = (await upload(client, data, "menü du jour.html", "text/html")).json()
        response = await client.get(f"/v1/files/{file['id']}/content")
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "text/html"
        assert response.headers["content-length"] == str(len(data))
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="men_ du jour.html"')
        assert disposition.endswith("filename*=UTF-8''" + quote("menü du jour.html", safe=""))
        assert response.headers["content-security-policy"] == "sandbox"
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_the_list_is_newest_first_and_pages(self, client: httpx.AsyncClient) -> None:
        ids = [(await upload(client, f"file {n}".encode())).json()["id"] for n in range(3)]
        first = await client.get("/v1/files", params={"limit": 2})
        assert [f["id"] for f in first.json()] == [ids[2], ids[1]]
        second = await client.get(first.headers["link"].split(";")[0].strip("<>"))
        assert [f["id"] for f in second.json()] == [ids[0]]
        assert "link" not in second.headers

    async def test_delete_removes_the_bytes_and_the_chunks(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        file = (await upload(client, b"Short-lived text.")).json()
        await settled(client, file["id"])
        assert len(await chunks_of(settings, file["id"])) == 1
        assert len(blob_files(settings)) == 1
        deleted = await client.delete(f"/v1/files/{file['id']}")
        assert deleted.status_code == 204
        for path in ("", "/content"):
            assert (await client.get(f"/v1/files/{file['id']}{path}")).status_code == 404
        assert (await client.delete(f"/v1/files/{file['id']}")).status_code == 404
        assert await chunks_of(settings, file["id"]) == []
        assert blob_files(settings) == []
        assert (await upload(client, b"Short-lived text.")).status_code == 201  # anew

    async def test_an_unknown_file_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/files/{new_id()}")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


class TestIsolation:
    async def test_another_users_file_is_as_absent_as_none(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        ada, bob = [
            {"Authorization": f"Bearer {await _key(settings, name)}"} for name in ("ada", "bob")
        ]
        async with serve(settings) as client:
            file = (await upload(client, b"ada's secret plans", **ada)).json()
            await settled(client, file["id"], **ada)
            for path in ("", "/content"):
                response = await client.get(f"/v1/files/{file['id']}{path}", headers=bob)
                assert response.status_code == 404, path
            assert (await client.delete(f"/v1/files/{file['id']}", headers=bob)).status_code == 404
            assert (await client.get("/v1/files", headers=bob)).json() == []
            bobs = await upload(client, b"ada's secret plans", **bob)  # the same bytes
            assert bobs.status_code == 201
            assert bobs.json()["id"] != file["id"]
            await client.delete(f"/v1/files/{bobs.json()['id']}", headers=bob)
            kept = await client.get(f"/v1/files/{file['id']}/content", headers=ada)
            assert kept.content == b"ada's secret plans"  # bob's delete took only his
            anonymous = await upload(client, b"x")
            assert anonymous.status_code == 401


class TestErasure:
    async def test_erasing_a_user_erases_their_files_bytes(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        async with store_only(settings) as auth:
            key, record = await auth.create_key(user_name="ada", role=AccessRole.USER)
            boss, _ = await auth.create_key(user_name="boss", role=AccessRole.ADMIN)
        ada = {"Authorization": f"Bearer {remember(key)}"}
        admin = {"Authorization": f"Bearer {remember(boss)}"}
        async with serve(settings) as client:
            file = (await upload(client, b"ada's diary, page one", **ada)).json()
            await settled(client, file["id"], **ada)
            kept = (await upload(client, b"the boss's own notes", **admin)).json()
            assert blob_files(settings)  # both stored
            erased = await client.delete(f"/v1/admin/users/{record.user_id}", headers=admin)
            assert erased.status_code == 204
            mine = await client.get(f"/v1/files/{kept['id']}/content", headers=admin)
        stored = b"".join(path.read_bytes() for path in blob_files(settings))
        assert b"ada's diary" not in stored  # no byte of hers outlives her
        assert mine.content == b"the boss's own notes"
        assert await chunks_of(settings, file["id"]) == []


def _chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _key(settings: Settings, user: str) -> str:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=AccessRole.USER)
    return remember(key)
