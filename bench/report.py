"""Figures from raw runs, their ratios to the thin relay, the table, and the budget."""

import math
from dataclasses import dataclass
from typing import Any

REFERENCE = "thin relay"
FIGURES = (  # key, heading, format
    ("answers_per_s", "answers/s", "{:,.0f}"),
    ("tokens_per_s", "tokens/s", "{:,.0f}"),
    ("ttft_p50_ms", "TTFT p50 ms", "{:.1f}"),
    ("ttft_p99_ms", "TTFT p99 ms", "{:.1f}"),
    ("latency_p50_ms", "latency p50 ms", "{:.1f}"),
    ("latency_p99_ms", "latency p99 ms", "{:.1f}"),
    ("errors", "errors", "{:d}"),
    ("cpu_ms_per_answer", "CPU ms/answer", "{:.2f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def figures(raw: dict[str, Any], *, cpu_seconds: float, peak_rss: int) -> dict[str, Any]:
    """One run's figures from the load generator's result and the server's usage."""
    answers = raw["answers"]
    ms = [v * 1000 for v in raw["ttft"]], [v * 1000 for v in raw["latency"]]
    return {
        "answers": answers,
        "seconds": round(raw["seconds"], 3),
        "answers_per_s": answers / raw["seconds"],
        "tokens_per_s": raw["tokens"] / raw["seconds"],
        "ttft_p50_ms": percentile(ms[0], 50),
        "ttft_p99_ms": percentile(ms[0], 99),
        "latency_p50_ms": percentile(ms[1], 50),
        "latency_p99_ms": percentile(ms[1], 99),
        "errors": raw["errors"],
        "first_errors": raw["first_errors"],
        "cpu_ms_per_answer": 1000 * cpu_seconds / max(answers, 1),
        "peak_rss_mb": peak_rss / 2**20,
    }


def with_ratios(runs: list[dict[str, Any]]) -> None:
    """Add ``ratio`` (each figure over the thin relay's at the same concurrency)."""
    reference = {run["concurrency"]: run for run in runs if run["system"] == REFERENCE}
    for run in runs:
        base = reference.get(run["concurrency"])
        if base is None:
            continue
        run["ratio"] = {
            key: run[key] / base[key] for key, _, _ in FIGURES if key != "errors" and base[key]
        }


def table(runs: list[dict[str, Any]], *, ratios: bool = False) -> str:
    headings = ["system", "c"] + [heading for key, heading, _ in FIGURES]
    rows = [headings]
    for run in runs:
        row = [run["system"], str(run["concurrency"])]
        for key, _, fmt in FIGURES:
            if ratios:
                ratio = run.get("ratio", {}).get(key)
                row.append("" if ratio is None else f"{ratio:.2f}×")
            else:
                row.append(fmt.format(run[key]))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(headings))]
    lines = [
        " | ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def idle_table(rounds: list[dict[str, Any]]) -> str:
    lines = ["streams | opened | dropped | errors | open s | gateway RSS MB | KB per stream"]
    for r in rounds:
        lines.append(
            f"{r['streams']:>7,} | {r['opened']:>6,} | {r['dropped']:>7} | {r['errors']:>6} | "
            f"{r['open_seconds']:>6.1f} | {r['rss_open_mb']:>14.0f} | {r['kb_per_stream']:>13.1f}"
        )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Check:
    line: str
    met: bool | None  # None: not measured in this run

    def __str__(self) -> str:
        mark = {True: "met", False: "MISSED", None: "not run"}[self.met]
        return f"[{mark:^7}] {self.line}"


def _run(runs: list[dict[str, Any]], system: str, concurrency: int) -> dict[str, Any] | None:
    return next(
        (r for r in runs if r["system"] == system and r["concurrency"] == concurrency), None
    )


def budget(
    runs: list[dict[str, Any]],
    idle: list[dict[str, Any]],
    *,
    memory: dict[str, Any] | None = None,
) -> list[Check]:
    """The issue's budget, line by line, judged on this run's figures.

    ``memory``'s errors (files not ready, answers not whole) count among the errors.
    """
    checks: list[Check] = []
    embedded, thin, fast = (_run(runs, s, 64) for s in ("embedded", REFERENCE, "fast relay"))
    if embedded and thin:
        ratio = embedded["answers_per_s"] / thin["answers_per_s"]
        line = f"embedded c=64 answers/s ≥ 1.0× thin relay: {ratio:.2f}×"
        if fast:
            to_fast = embedded["answers_per_s"] / fast["answers_per_s"]
            line += f" ({to_fast:.2f}× the fast relay; stretch goal 0.5×)"
        checks.append(Check(line, ratio >= 1.0))
    else:
        checks.append(Check("embedded c=64 answers/s ≥ 1.0× thin relay", None))
    direct = _run(runs, "direct", 1)
    for system, limit in (("embedded", 5.0), ("distributed", 15.0)):
        run = _run(runs, system, 1)
        if run and direct:
            overhead = run["ttft_p50_ms"] - direct["ttft_p50_ms"]
            checks.append(
                Check(
                    f"{system} c=1 TTFT p50 overhead < {limit:g} ms: {overhead:.1f} ms",
                    overhead < limit,
                )
            )
        else:
            checks.append(Check(f"{system} c=1 TTFT p50 overhead < {limit:g} ms", None))
    largest = max(idle, key=lambda r: r["streams"], default=None)
    if largest and largest["streams"] >= 10_000:
        held = largest["opened"] == largest["streams"] and not largest["dropped"]
        per = largest["kb_per_stream"]
        checks.append(
            Check(
                f"10,000 idle streams on one gateway, < 20 KB each: {per:.1f} KB", held and per < 20
            )
        )
    else:
        checks.append(Check("10,000 idle streams on one gateway, < 20 KB each", None))
    errors = sum(r["errors"] for r in runs) + sum(r["errors"] + r["dropped"] for r in idle)
    errors += memory["errors"] if memory else 0
    checks.append(Check(f"zero errors in every scenario: {errors}", errors == 0))
    return checks
