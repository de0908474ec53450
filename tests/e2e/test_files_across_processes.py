"""Uploaded files are read by a worker, not by the process that took the upload: on
gateways and workers, the gateway stores the bytes and a worker reads them; and a file
whose reading a crash interrupted is read when `chatorch serve` starts again."""

import sqlite3
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import chatorch
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture

NOTES = b"# Returns\n\nRefund code RX-2291 applies to orders within 30 days.\n"


def _upload(url: str) -> dict[str, Any]:
    files = {"file": ("returns.md", NOTES, "text/markdown")}
    uploaded = httpx.post(f"{url}/v1/files", files=files, timeout=10)
    assert uploaded.status_code == 201, uploaded.text
    body: dict[str, Any] = uploaded.json()
    return body


def _settled(url: str, file_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        file: dict[str, Any] = httpx.get(f"{url}/v1/files/{file_id}", timeout=5).json()
        if file["status"] != "processing":
            return file
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} still processing")


class TestReadByWorkers:
    def test_a_gateway_takes_the_upload_and_a_worker_reads_it(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **shared))
            uploaded = _upload(gateway.url)
            assert uploaded["status"] == "processing"
            time.sleep(1.0)
            waiting = httpx.get(f"{gateway.url}/v1/files/{uploaded['id']}", timeout=5).json()
            assert waiting["status"] == "processing"  # a gateway does not read files
            stack.enter_context(chatorch(tmp_path, role="worker", **shared))
            file = _settled(gateway.url, uploaded["id"])
        assert file["status"] == "ready"


class TestReadAfterACrash:
    def test_a_file_left_processing_is_read_when_serve_starts_again(self, tmp_path: Path) -> None:
        with chatorch(tmp_path) as first:
            uploaded = _upload(first.url)
            assert _settled(first.url, uploaded["id"])["status"] == "ready"
        # As a crash mid-read leaves it: still processing, no chunks.
        with sqlite3.connect(tmp_path / "data" / "chatorch.db") as db:
            db.execute("UPDATE files SET status = 'processing'")
            db.execute("DELETE FROM file_chunks")
        with chatorch(tmp_path) as second:
            file = _settled(second.url, uploaded["id"])
        assert file["status"] == "ready"
        with sqlite3.connect(tmp_path / "data" / "chatorch.db") as db:
            (texts,) = db.execute("SELECT group_concat(text) FROM file_chunks").fetchone()
        assert "RX-2291" in texts


class TestRetrievalAcrossProcesses:
    def test_without_a_vector_server_answers_cite_by_full_text(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **shared))
            worker = stack.enter_context(chatorch(tmp_path, role="worker", **shared))
            uploaded = _upload(gateway.url)
            assert _settled(gateway.url, uploaded["id"])["status"] == "ready"
            chat = httpx.post(f"{gateway.url}/v1/chats", json={}, timeout=5).json()["id"]
            body = {"content": "Which refund code?", "file_ids": [uploaded["id"]]}
            accepted = httpx.post(f"{gateway.url}/v1/chats/{chat}/messages", json=body, timeout=5)
            assert accepted.status_code == 202, accepted.text
            answer: dict[str, Any] = {}
            for _ in range(200):
                history = httpx.get(f"{gateway.url}/v1/chats/{chat}/messages", timeout=5).json()
                if len(history) == 2:
                    answer = history[1]
                    break
                time.sleep(0.1)
            log = worker.log.read_text()
        assert "RX-2291" in answer["content"]
        assert answer["metadata"]["citations"][0]["name"] == "returns.md"
        assert "vectors.off" in log  # said once, at start
