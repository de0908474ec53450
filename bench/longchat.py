"""A long chat: does the 200th question wait longer than the 10th?

``python -m bench --only long-chat [--quick]`` runs it as a section of the benchmarks,
on chatorch distributed (one gateway, one worker, PostgreSQL, NATS and Redis) and
embedded (``chatorch serve``, SQLite, the in-process bus), each on a fresh database.
One client asks every question, one after another, each after the last one's ``done``;
each is timed as ``bench/load.py`` times an answer: from the message POST to the first
token, and to ``done``.

The long chat is asked ``turns`` questions. The figure is the TTFT p50 of its late
window (turns 200–250) over the early window's (turns 10–50): work that grows with the
chat's length (a scan of its earlier questions, a replay of its event log from the
start) shows as a ratio above 1. The machine is shared and its speed drifts by more than
the budget within a minute, so the early window is not taken from the long chat's own
start, seconds earlier: while the long chat is in its late window, a second, new chat
is asked its first questions in alternation with it, and its turns make the early
window. Both windows are then measured at the same moments, on the same database and
logs; only the chat's length differs. The long chat's own early turns, measured first,
are reported too (``sequential_ratio``), drift and all.

The prompt's history grows with the chat, up to ``CHATORCH_CONTEXT_CHARS`` (48,000
characters, some 190 turns of this question and its 50-token answer), so late requests
to the model are larger; the fake upstream answers them alike.
"""

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.backing import backing_services, missing
from bench.load import Answerer, Incomplete
from bench.report import grid, percentile
from bench.scenarios import Target, Upstream, chatorch, chatorch_env, deployment
from bench.systems import Usage

TOKENS = 50  # the fake upstream's answer
MODES = ("distributed", "embedded")


@dataclass(frozen=True, slots=True)
class LongChatPlan:
    turns: int  # questions in the long chat
    early: tuple[int, int]  # first and last turn of the early window (1-based)
    late: tuple[int, int]  # of the late window; the new chat alternates with it

    def __post_init__(self) -> None:
        if not 1 <= self.early[0] <= self.early[1] < self.late[0] <= self.late[1] <= self.turns:
            raise ValueError(f"windows out of order: {self}")


FULL = LongChatPlan(turns=300, early=(10, 50), late=(200, 250))
QUICK = LongChatPlan(turns=120, early=(10, 40), late=(80, 120))


@dataclass(slots=True)
class Series:
    """One chat's turns, in order: TTFT and latency in seconds (NaN: failed), errors."""

    ttft: list[float]
    latency: list[float]
    errors: list[str]


def measure_long_chat(
    plan: LongChatPlan, upstream: Upstream, workdir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Each mode's conversation, its windows and their ratio."""
    absent = missing()
    modes = []
    for mode in MODES:
        if mode == "distributed" and absent:
            say(f"long chat, distributed: left out, not listening: {', '.join(absent)}")
            continue
        say(f"long chat, {mode}: {plan.turns} questions in one chat")
        with _system(mode, upstream, workdir) as target, Usage(target.servers) as usage:
            long, new = asyncio.run(converse(target, plan))
        answers = len(long.ttft) + len(new.ttft)
        cpu_ms = 1000 * usage.used.cpu_seconds / max(answers, 1)
        modes.append({"mode": mode} | summary(long, new, plan) | {"cpu_ms_per_answer": cpu_ms})
    return {"modes": modes}


@contextlib.contextmanager
def _system(mode: str, upstream: Upstream, workdir: Path) -> Iterator[Target]:
    if mode == "embedded":
        env = chatorch_env(upstream, database_url=f"sqlite+aiosqlite:///{workdir}/long-chat.db")
        with chatorch("serve", workdir, env, name="chatorch-serve-long-chat") as (server, url):
            yield Target("chatorch", url, [server])
        return
    with (
        backing_services() as backing,
        deployment(upstream, workdir, backing, gateways=1, workers=1) as target,
    ):
        yield target


async def converse(target: Target, plan: LongChatPlan) -> tuple[Series, Series]:
    """The long chat's turns and the new chat's, which alternate with its late window.

    The long chat is asked up to its late window alone; then the two chats take turns
    until the new one has reached the end of the early window and the long one the end
    of the late window; then the long chat goes on alone to ``plan.turns``.
    """
    long, new = Series([], [], []), Series([], [], [])
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        answerer = Answerer(session, "chatorch", target.url, TOKENS, key=target.key)
        long_chat = await answerer.new_chat()
        new_chat = await answerer.new_chat()
        while len(long.ttft) < plan.turns:
            alongside = len(long.ttft) >= plan.late[0] - 1 and len(new.ttft) < plan.early[1]
            if alongside:
                await _turn(answerer, new_chat, new)
            if len(long.ttft) < plan.late[1] or len(new.ttft) >= plan.early[1]:
                await _turn(answerer, long_chat, long)
    return long, new


async def _turn(answerer: Answerer, chat: str, into: Series) -> None:
    """One question; a failed one is counted and timed as NaN, so turns keep their place."""
    try:
        first, whole, _tokens = await answerer.turn(chat)
    except (TimeoutError, Incomplete, aiohttp.ClientError) as error:
        into.errors.append(f"{type(error).__name__}: {error}")
        first = whole = math.nan
    into.ttft.append(first)
    into.latency.append(whole)


def summary(long: Series, new: Series, plan: LongChatPlan) -> dict[str, Any]:
    """The windows' TTFT and latency p50 (ms), their ratio, and every turn's TTFT."""
    early = percentile(_window(new.ttft, plan.early), 50)
    late = percentile(_window(long.ttft, plan.late), 50)
    own_early = percentile(_window(long.ttft, plan.early), 50)
    return {
        "turns": len(long.ttft),
        "early": list(plan.early),
        "late": list(plan.late),
        "ttft_early_p50_ms": early,
        "ttft_late_p50_ms": late,
        "ratio": late / early,
        "latency_early_p50_ms": percentile(_window(new.latency, plan.early), 50),
        "latency_late_p50_ms": percentile(_window(long.latency, plan.late), 50),
        "sequential_ttft_early_p50_ms": own_early,
        "sequential_ratio": late / own_early,
        "errors": len(long.errors) + len(new.errors),
        "first_errors": (long.errors + new.errors)[:5],
        "ttft_ms": [round(v * 1000, 3) for v in long.ttft],
        "new_chat_ttft_ms": [round(v * 1000, 3) for v in new.ttft],
    }


def _window(values: list[float], window: tuple[int, int]) -> list[float]:
    """The measured values (ms) of turns ``window[0]``…``window[1]``, 1-based, inclusive."""
    first, last = window
    return [1000 * v for v in values[first - 1 : last] if not math.isnan(v)]


def table(result: dict[str, Any]) -> str:
    rows = [
        [
            "mode",
            "turns",
            "early (new chat)",
            "TTFT p50 ms",
            "late",
            "TTFT p50 ms",
            "late/early",
            "same chat's early first",
            "latency p50 ms early",
            "late",
            "errors",
            "CPU ms/answer",
        ]
    ]
    for m in result["modes"]:
        rows.append(
            [
                m["mode"],
                str(m["turns"]),
                "{}–{}".format(*m["early"]),
                f"{m['ttft_early_p50_ms']:.1f}",
                "{}–{}".format(*m["late"]),
                f"{m['ttft_late_p50_ms']:.1f}",
                f"{m['ratio']:.2f}×",
                f"{m['sequential_ratio']:.2f}×",
                f"{m['latency_early_p50_ms']:.1f}",
                f"{m['latency_late_p50_ms']:.1f}",
                str(m["errors"]),
                f"{m['cpu_ms_per_answer']:.2f}",
            ]
        )
    return grid(rows, first_left=True)
