"""Tracing's cost: answers per second with spans exported, and without.

``python -m bench --only tracing [--quick]`` runs it as a section of the benchmarks.
One ``chatorch serve`` at a time (SQLite, the in-process bus, the fake upstream as its
model), loaded by ``bench/load.py`` at concurrency 1 and 64:

* **off** — no endpoint: no SDK provider, every tracing call returns at once;
* **on** — ``CHATORCH_OTLP_ENDPOINT`` at the fake OTLP/HTTP collector
  (``tests/fixtures/fake_otlp.py``, a process of its own, whose CPU is not counted:
  a real collector runs elsewhere), every span exported in batches.

The two arms alternate, each on a fresh server, ``rounds`` times, each going first in
turn, so drift in the machine's speed falls on both; the figures are their medians.
The cost is the change in answers/s and in the server's CPU per answer; the
collector's count of spans received, after each server stopped and flushed, says the
spans really left.
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.arms import Load, Plan, alternating, measured, medians
from bench.report import grid
from bench.scenarios import Target, Upstream, chatorch, chatorch_env
from bench.systems import Server, started

CONCURRENCY = (1, 64)
ARMS = ("off", "on")
REPORT_WAIT = 0.6  # s for the collector to report the spans of a stopped server

FULL = Plan(rounds=3, seconds=10.0, warmup=2.0)
QUICK = Plan(rounds=2, seconds=3.0, warmup=1.0)


def measure_tracing(
    plan: Plan,
    upstream: Upstream,
    workdir: Path,
    say: Callable[[str], None],
    load: Load,
) -> dict[str, Any]:
    """Both arms at both concurrencies, alternating; the runs and the cost."""
    argv = [sys.executable, "-m", "tests.fixtures.fake_otlp", "--port", "0"]
    runs: list[dict[str, Any]] = []
    with started("otlp-collector", argv, workdir=workdir) as collector:
        endpoint = collector.wait_line("listening on ")
        for round_, arm in alternating(plan.rounds, ARMS):
            settings = {"database_url": f"sqlite+aiosqlite:///{workdir}/tracing-{arm}.db"}
            if arm == "on":
                settings["otlp_endpoint"] = endpoint
            before = spans_received(collector)
            env = chatorch_env(upstream, **settings)
            with chatorch("serve", workdir, env) as (server, url):
                target = Target("chatorch", url, [server])
                runs += measured(
                    load,
                    target,
                    upstream,
                    plan,
                    arm=arm,
                    round_=round_,
                    concurrencies=CONCURRENCY,
                    say=say,
                    what="tracing",
                )
            answered = sum(r["answers"] for r in runs[-len(CONCURRENCY) :])  # measured
            exported = _settled(collector) - before
            runs[-1]["spans_exported"] = exported
            if arm == "on" and exported == 0:
                raise RuntimeError("tracing on, yet the collector received no span")
            if arm == "off" and exported:
                raise RuntimeError(f"tracing off, yet {exported} spans were exported")
            if arm == "on":
                say(f"tracing on: {exported:,} spans for {answered:,}+ answers")
    return {"runs": runs, "cost": cost(runs)}


def spans_received(collector: Server) -> int:
    """The collector's last ``spans <n>`` line: what it has received in all."""
    counts = [
        int(line.removeprefix("spans "))
        for line in collector.log.read_text().splitlines()
        if line.startswith("spans ")
    ]
    return counts[-1] if counts else 0


def _settled(collector: Server) -> int:
    """The count once a stopped server's last batch has landed: it is sent before the
    server exits, and the collector reports within 0.2 s."""
    time.sleep(REPORT_WAIT)
    return spans_received(collector)


def cost(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concurrency: the medians of each arm, and on's change from off."""
    rows = []
    for concurrency, (off, on) in medians(runs, ARMS, _KEYS, CONCURRENCY):
        rows.append(
            {
                "concurrency": concurrency,
                "off": off,
                "on": on,
                "answers_per_s_change_pct": 100 * (on["answers_per_s"] / off["answers_per_s"] - 1),
                "cpu_ms_per_answer_added": on["cpu_ms_per_answer"] - off["cpu_ms_per_answer"],
            }
        )
    return rows


_KEYS = ("answers_per_s", "cpu_ms_per_answer", "ttft_p50_ms", "latency_p50_ms")


def table(result: dict[str, Any]) -> str:
    headings = [
        "concurrency",
        "answers/s off",
        "answers/s on",
        "change",
        "CPU ms/answer off",
        "on",
        "latency p50 ms off",
        "on",
    ]
    rows = [
        [
            str(row["concurrency"]),
            f"{row['off']['answers_per_s']:,.0f}",
            f"{row['on']['answers_per_s']:,.0f}",
            f"{row['answers_per_s_change_pct']:+.1f}%",
            f"{row['off']['cpu_ms_per_answer']:.2f}",
            f"{row['on']['cpu_ms_per_answer']:.2f}",
            f"{row['off']['latency_p50_ms']:.1f}",
            f"{row['on']['latency_p50_ms']:.1f}",
        ]
        for row in result["cost"]
    ]
    return grid([headings, *rows])
