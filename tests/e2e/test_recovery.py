"""A SIGKILL mid-answer loses nothing: after a restart every accepted message is answered."""

import asyncio
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.api.conftest import text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import Chatorch, chatorch, fake_openai, free_port

SLOW = "openai:fake-slow-40-tokens-40"  # 40 tokens, 40 ms apart: ~1.6 s an answer


async def _start_answers(url: str, count: int) -> list[dict[str, str]]:
    """POST ``count`` questions in separate chats; return the 202 bodies."""
    async with httpx.AsyncClient(base_url=url) as http:
        accepted = []
        for n in range(count):
            chat = (await http.post("/v1/chats", json={})).json()
            body = {"content": f"question {n}"}
            response = await http.post(f"/v1/chats/{chat['id']}/messages", json=body)
            assert response.status_code == 202
            accepted.append(response.json())
        return accepted


class TestCrashRecovery:
    async def test_accepted_messages_are_answered_after_a_sigkill(self, tmp_path: Path) -> None:
        with fake_openai() as upstream:
            settings = {"llm": SLOW, "openai_base_url": upstream}
            with chatorch(tmp_path, **settings) as first:
                accepted = await _start_answers(first.url, 3)
                seen = await read_stream(first.url, accepted[0]["events_url"], count=3)
                first.kill()
            for turn in await asyncio.gather(*(_half_written(tmp_path, a) for a in accepted)):
                assert turn == ["user:pending"]  # nothing half-written was stored
            with chatorch(tmp_path, **settings) as second:
                resumed = await read_stream(
                    second.url, accepted[0]["events_url"], after=seen[-1].id
                )
                others = [await read_stream(second.url, a["events_url"]) for a in accepted[1:]]
                histories = [
                    await read_history(second.url, a["message"]["chat_id"]) for a in accepted
                ]
        assert resumed[0].event == "reset"
        assert resumed[0].data["attempt"] == 2
        assert resumed[-1].event == "done"
        assert text_of(resumed).split() == [f"tok{n}" for n in range(40)]
        assert all(events[-1].event == "done" for events in others)
        for history in histories:
            assert [(m["role"], m["status"]) for m in history] == [
                ("user", "complete"),
                ("assistant", "complete"),
            ]
        assert histories[0][1]["content"] == text_of(resumed)
        assert histories[0][1]["metadata"]["attempt"] == 2  # type: ignore[index]

    async def test_after_the_last_attempt_the_answer_is_stored_failed(self, tmp_path: Path) -> None:
        with fake_openai() as upstream:
            settings = {"llm": SLOW, "openai_base_url": upstream, "max_attempts": "1"}
            with chatorch(tmp_path, **settings) as first:
                (accepted,) = await _start_answers(first.url, 1)
                seen = await read_stream(first.url, accepted["events_url"], count=2)
                first.kill()
            with chatorch(tmp_path, **settings) as second:
                events = await read_stream(second.url, accepted["events_url"], after=seen[-1].id)
                history = await read_history(second.url, accepted["message"]["chat_id"])
        assert [e.event for e in events] == ["error"]
        assert events[0].data["code"] == "gave_up"
        assert [(m["role"], m["status"]) for m in history] == [
            ("user", "failed"),
            ("assistant", "failed"),
        ]


async def _half_written(workdir: Path, accepted: dict[str, str]) -> list[str]:
    """What the killed process left in its database for this turn, read directly."""

    def read() -> list[str]:
        with sqlite3.connect(workdir / "data" / "chatorch.db") as db:
            rows = db.execute(
                "SELECT role, status FROM messages WHERE response_id = ? ORDER BY created_at",
                (accepted["response_id"].replace("-", ""),),
            ).fetchall()
        return [f"{role}:{status}" for role, status in rows]

    return await asyncio.to_thread(read)


class TestGracefulStop:
    async def test_sigterm_ends_open_streams_cleanly_so_clients_reconnect(
        self, tmp_path: Path
    ) -> None:
        server = await asyncio.to_thread(Chatorch, tmp_path)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                chat = (await http.post("/v1/chats", json={})).json()
                async with http.stream("GET", f"/v1/chats/{chat['id']}/events") as stream:
                    chunks = stream.aiter_bytes()
                    assert (await anext(chunks)).startswith(b"retry: ")
                    server.process.send_signal(signal.SIGTERM)
                    rest = [chunk async for chunk in chunks]  # ends without a protocol error
            assert b"".join(rest).strip(b": ping\n") == b""
            assert await asyncio.to_thread(server.process.wait, 15) == 0
        finally:
            await asyncio.to_thread(server.stop)


class TestMetricsPort:
    async def test_metrics_move_to_their_own_port(self, tmp_path: Path) -> None:
        metrics_port = free_port()
        server = await asyncio.to_thread(Chatorch, tmp_path, metrics_port=str(metrics_port))
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                public = await http.get(f"{server.url}/metrics")
                private = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            server.process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(server.process.wait, 15) == 0
        finally:
            await asyncio.to_thread(server.stop)
        assert public.status_code == 404
        assert private.status_code == 200
        assert "chatorch_stage_seconds" in private.text
