"""Every problem (RFC 9457) has the same fields, whoever raises it: our handlers, the
router (unknown path, wrong method) or the body limit in front of everything."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatorch.domain.ids import new_id
from tests.api.conftest import serve, settings_for

FIELDS = {"type", "title", "status", "detail", "instance", "request_id", "code"}
LIMIT = 2048  # bytes: CHATORCH_MAX_BODY_BYTES of the server under test


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(tmp_path, max_body_bytes=LIMIT)) as http:
        yield http


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem in ``response``, checked for the fields every problem carries."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem.keys() >= FIELDS, f"missing {FIELDS - problem.keys()}"
    assert problem.keys() - FIELDS <= {"errors"}  # only a 422 lists its errors
    assert problem["status"] == status
    assert problem["type"] == f"urn:chatorch:problem:{problem['code']}"
    assert problem["instance"] == response.request.url.path
    assert problem["request_id"] == response.headers["x-request-id"]
    assert problem["detail"]
    return problem


class TestEveryProblemHasTheSameFields:
    async def test_a_declared_body_over_the_limit(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/chats", json={"title": "x" * LIMIT})
        problem = problem_of(response, 413)
        assert problem["code"] == "body_too_large"
        assert str(LIMIT) in problem["detail"]

    async def test_a_chunked_body_over_the_limit(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"title": "'
            for _ in range(4):
                yield b"x" * 1024
            yield b'"}'

        response = await client.post("/v1/chats", content=chunks(), headers=JSON)
        problem = problem_of(response, 413)
        assert problem["code"] == "body_too_large"
        assert str(LIMIT) in problem["detail"]
        assert (await client.get("/v1/chats")).json() == []

    async def test_a_chunked_body_within_the_limit_is_read(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"title": '
            yield b'"Chunked"}'

        response = await client.post("/v1/chats", content=chunks(), headers=JSON)
        assert response.status_code == 201, response.text
        assert response.json()["title"] == "Chunked"

    async def test_an_unknown_path_says_which(self, client: httpx.AsyncClient) -> None:
        problem = problem_of(await client.get("/v1/chatz"), 404)
        assert problem["code"] == "not_found"
        assert "/v1/chatz" in problem["detail"]
        assert problem["detail"] != "Not Found"

    async def test_a_wrong_method_says_which_are_allowed(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/v1/chats", json={})
        problem = problem_of(response, 405)
        assert problem["code"] == "method_not_allowed"
        assert "PUT" in problem["detail"]
        assert "GET" in problem["detail"]
        assert "POST" in problem["detail"]
        assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}

    async def test_invalid_input(self, client: httpx.AsyncClient) -> None:
        problem = problem_of(await client.post("/v1/chats", json={"titel": "typo"}), 422)
        assert problem["code"] == "invalid_input"
        assert problem["errors"]

    async def test_malformed_json(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/chats", content=b'{"title": ', headers=JSON)
        assert problem_of(response, 400)["code"] == "malformed_json"

    async def test_an_unknown_chat(self, client: httpx.AsyncClient) -> None:
        problem = problem_of(await client.get(f"/v1/chats/{new_id()}"), 404)
        assert "no chat" in problem["detail"]


JSON = {"content-type": "application/json"}
