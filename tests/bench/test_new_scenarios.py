"""The long chat, keys and scaling parts of the bench: their arithmetic, their budget
lines, the load generator's key, and the long chat's order of questions.

A tiny server speaking chatorch's three message routes (and refusing a request without
its key, as ``CHATORCH_AUTH_REQUIRED`` does) stands in where only the bench's own logic
is under test; the key is also checked once against a real ``chatorch serve``.
"""

import asyncio
import json
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bench import keys, longchat, report, scaling
from bench.longchat import LongChatPlan, Series
from bench.scenarios import Target, Upstream
from bench.systems import fake_upstream

KEY = "chk_tiny"
ANSWER = "".join(f"event: token\ndata: tok{n}\n\n" for n in range(50)) + "event: done\ndata: {}\n\n"


class Tiny:
    """chatorch's message routes, answering 50 tokens; it notes each question's chat."""

    def __init__(self) -> None:
        self.asked: list[str] = []  # chat ids, one per question, in order
        self.unauthorized = 0
        self.url = ""
        self._chats = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _authorized(self, request: web.Request) -> bool:
        if request.headers.get("Authorization") == f"Bearer {KEY}":
            return True
        self.unauthorized += 1
        return False

    async def _chat(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"detail": "an API key is required"}, status=401)
        self._chats += 1
        return web.json_response({"id": f"chat{self._chats}"}, status=201)

    async def _message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"detail": "an API key is required"}, status=401)
        chat = request.match_info["chat"]
        self.asked.append(chat)
        return web.json_response({"events_url": f"/v1/chats/{chat}/events"}, status=202)

    async def _events(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"detail": "an API key is required"}, status=401)
        return web.Response(text=ANSWER, content_type="text/event-stream")

    def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chats", self._chat)
        app.router.add_post("/v1/chats/{chat}/messages", self._message)
        app.router.add_get("/v1/chats/{chat}/events", self._events)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> "Tiny":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def tiny() -> Iterator[Tiny]:
    with Tiny() as server:
        yield server


def _load(urls: list[str], *extra: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.load", "chatorch", *urls]
    argv += ["--concurrency", "4", "--seconds", "0.4", "--warmup", "0", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_the_load_generator_sends_the_key_on_every_request(tiny: Tiny) -> None:
    result = _load([tiny.url], "--key", KEY)
    assert result["answers"] > 0
    assert result["errors"] == 0, result["first_errors"]
    assert tiny.unauthorized == 0
    refused = _load([tiny.url])
    assert refused["answers"] == 0
    assert "HTTP 401 from /v1/chats" in refused["first_errors"][0]


def test_the_load_is_spread_over_every_url(tiny: Tiny) -> None:
    with Tiny() as other:
        result = _load([tiny.url, other.url], "--key", KEY)
    assert result["errors"] == 0, result["first_errors"]
    assert tiny.asked
    assert other.asked


def test_embedded_with_keys_answers_only_requests_with_its_key(tmp_path: Path) -> None:
    """The real thing: ``chatorch keys create`` before ``chatorch serve``, auth required."""
    with (
        fake_upstream(tmp_path) as (server, url),
        keys.server(Upstream(server, url), tmp_path, keys=True, label="test") as target,
    ):
        assert target.key
        assert target.key.startswith("chk_")
        result = _load([target.url], "--key", target.key)
        refused = _load([target.url])
    assert result["answers"] > 0
    assert result["errors"] == 0, result["first_errors"]
    assert refused["answers"] == 0
    assert "HTTP 401" in refused["first_errors"][0]


def test_the_new_chat_is_asked_alongside_the_long_chats_late_window(tiny: Tiny) -> None:
    plan = LongChatPlan(turns=12, early=(2, 3), late=(7, 9))
    target = Target("chatorch", tiny.url, [], key=KEY)
    long, new = asyncio.run(longchat.converse(target, plan))
    assert len(long.ttft) == 12
    assert len(new.ttft) == 3
    assert not long.errors
    assert not new.errors
    first, second = "chat1", "chat2"  # the long chat is made first
    assert tiny.asked == [first] * 6 + [second, first] * 3 + [first] * 3


def test_windows_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="windows out of order"):
        LongChatPlan(turns=100, early=(10, 60), late=(50, 100))
    with pytest.raises(ValueError, match="windows out of order"):
        LongChatPlan(turns=100, early=(10, 20), late=(80, 120))


def test_the_long_chats_ratio_is_its_late_window_over_the_new_chats_early_one() -> None:
    plan = LongChatPlan(turns=6, early=(2, 3), late=(4, 6))
    long = Series([0.001, 0.002, 0.002, 0.003, 0.003, math.nan], [0.01] * 6, ["Incomplete: x"])
    new = Series([0.009, 0.002, 0.002], [0.01] * 3, [])
    summary = longchat.summary(long, new, plan)
    assert summary["ttft_early_p50_ms"] == 2.0  # the new chat's turns 2–3
    assert summary["ttft_late_p50_ms"] == 3.0  # the failed sixth turn left out
    assert summary["ratio"] == 1.5
    assert summary["sequential_ratio"] == 1.5
    assert summary["errors"] == 1
    assert math.isnan(summary["ttft_ms"][5])
    lines = longchat.table({"modes": [summary | {"mode": "embedded", "cpu_ms_per_answer": 2}]})
    assert "1.50×" in lines.splitlines()[2]


def _mode(mode: str, ratio: float, errors: int = 0) -> dict[str, Any]:
    return {"mode": mode, "ratio": ratio, "sequential_ratio": 1.0, "errors": errors}


def _check(checks: list[report.Check], start: str) -> report.Check:
    return next(check for check in checks if check.line.startswith(start))


def _arm(arm: str, round_: int, concurrency: int, answers_per_s: float) -> dict[str, Any]:
    return {
        "arm": arm,
        "round": round_,
        "concurrency": concurrency,
        "answers_per_s": answers_per_s,
        "cpu_ms_per_answer": 1000 / answers_per_s,
        "ttft_p50_ms": 5.0,
        "latency_p50_ms": 20.0,
        "errors": 0,
    }


def test_keys_are_compared_on_the_medians_of_alternating_runs() -> None:
    runs = [
        _arm("without", 1, 64, 400.0),
        _arm("with keys", 1, 64, 200.0),  # a busy spell: the median leaves it out
        _arm("with keys", 2, 64, 380.0),
        _arm("without", 2, 64, 420.0),
        _arm("with keys", 3, 64, 370.0),
        _arm("without", 3, 64, 100.0),
        _arm("without", 1, 1, 100.0),  # concurrency 1 has no run with keys
    ]
    (row,) = keys.compare(runs)
    assert row["concurrency"] == 64
    assert row["without"]["answers_per_s"] == 400.0
    assert row["with_keys"]["answers_per_s"] == 370.0
    assert round(row["ratio"], 3) == 0.925
    assert "0.93×" in keys.table({"compared": [row]}).splitlines()[2]


def test_the_new_budget_lines() -> None:
    keyed = {"runs": [_arm("without", 1, 64, 400.0), _arm("with keys", 1, 64, 350.0)]}
    keyed["compared"] = keys.compare(keyed["runs"])
    long_chat = {"modes": [_mode("distributed", 1.1), _mode("embedded", 1.35, errors=2)]}
    scaled = [{"gateways": 2, "workers": 4, "errors": 3}]
    checks = report.budget([], [], keys=keyed, long_chat=long_chat, scaling=scaled)
    with_keys = _check(checks, "embedded with keys")
    assert with_keys.met is False  # 0.875×
    assert "0.88× (CPU ms/answer 2.50 → 2.86)" in with_keys.line
    chat = _check(checks, "long chat")
    assert chat.met is False  # embedded is over 1.3×
    assert "distributed 1.10×" in chat.line
    assert "embedded 1.35×" in chat.line
    assert _check(checks, "zero errors").line.endswith(": 5")
    keyed["compared"] = keys.compare([keyed["runs"][0], _arm("with keys", 1, 64, 360.0)])
    long_chat["modes"][1]["ratio"] = 1.3
    checks = report.budget([], [], keys=keyed, long_chat=long_chat)
    assert _check(checks, "embedded with keys").met is True
    assert _check(checks, "long chat").met is True
    unmeasured = report.budget([], [])
    assert _check(unmeasured, "embedded with keys").met is None
    assert _check(unmeasured, "long chat").met is None


def test_cpu_is_summed_by_kind_of_process() -> None:
    used = {"chatorch-gateway-1": 0.2, "chatorch-gateway-2": 0.3, "chatorch-worker": 0.5}
    assert report.by_kind(used, 100) == {"gateway": 5.0, "worker": 5.0}


def test_the_scaling_table_shows_each_kinds_cpu() -> None:
    run = {
        "gateways": 2,
        "workers": 4,
        "answers_per_s": 120.0,
        "ttft_p50_ms": 400.0,
        "latency_p50_ms": 420.0,
        "errors": 0,
        "cpu_ms_per_answer": 13.0,
        "cpu_ms_per_answer_by_kind": {"gateway": 7.5, "worker": 5.5},
        "backing_cpu_ms_per_answer": {"PostgreSQL": 3.25, "NATS": 1.5, "Redis": 0.25},
    }
    row = scaling.table([run]).splitlines()[2]
    assert [cell.strip() for cell in row.split("|")][:4] == ["2", "4", "fake", "120"]
    assert "7.50" in row
    assert "5.50" in row
    assert "3.25" in row
