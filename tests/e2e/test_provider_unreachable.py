"""A provider that does not answer at start is said once in the log, and the start goes on."""

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import chatorch


def _events(log: Path, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line[:1] == "{"]
    return [line for line in lines if line.get("event") == name]


def test_an_unreachable_provider_is_warned_about_once(tmp_path: Path, closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    with chatorch(tmp_path, llm="openai:gpt-4o-mini,builtin", openai_base_url=base_url) as server:
        ready = httpx.get(f"{server.url}/readyz", timeout=5)  # not fatal: it serves
        deadline = time.monotonic() + 20
        while not _events(server.log, "llm.provider_unreachable"):
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        time.sleep(1)  # a second line would come now, if there were one
        answer = httpx.post(f"{server.url}/v1/chats", json={}, timeout=5)
        warnings = _events(server.log, "llm.provider_unreachable")
    assert ready.status_code == 200
    assert answer.status_code == 201
    [warning] = warnings  # once, and for the provider that is down only (not builtin)
    assert warning["level"] == "warning"
    assert warning["provider"] == "openai:gpt-4o-mini"
    assert f"cannot reach {base_url}/models" in warning["detail"]
    assert "another provider of CHATORCH_LLM answers" in warning["fallback"]
