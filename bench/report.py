"""Figures from raw runs, their ratios to the thin relay, the table, and the budget."""

import math
import re
from dataclasses import dataclass
from typing import Any

REFERENCE = "thin relay"
LONG_CHAT_LIMIT = 1.3  # late turns' TTFT p50 over early turns'
KEYS_LIMIT = 0.9  # embedded with API keys required, answers/s over embedded without (c=64)
DISTRIBUTED_LIMIT = 0.7  # distributed (a gateway, a worker) answers/s over the thin relay (c=64)
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


def by_kind(cpu_by_server: dict[str, float], answers: int) -> dict[str, float]:
    """CPU ms per answer of each kind of process (``chatorch-worker-2`` is a worker),
    summed over the processes of that kind."""
    kinds: dict[str, float] = {}
    for name, seconds in cpu_by_server.items():
        kind = re.sub(r"-\d+$", "", name).removeprefix("chatorch-")
        kinds[kind] = kinds.get(kind, 0.0) + 1000 * seconds / max(answers, 1)
    return kinds


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
    return grid(rows, first_left=True)


def grid(rows: list[list[str]], *, first_left: bool = False) -> str:
    """``rows`` (the first: the headings) as an aligned text table: numbers to the
    right, and with ``first_left`` the first column (names) to the left."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(
            cell.ljust(w) if first_left and i == 0 else cell.rjust(w)
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
    keys: dict[str, Any] | None = None,
    long_chat: dict[str, Any] | None = None,
    scaling: list[dict[str, Any]] | None = None,
) -> list[Check]:
    """The issue's budget, line by line, judged on this run's figures.

    ``memory``'s errors (files not ready, answers not whole), and the errors of the
    keys, long chat and scaling runs count among the errors.
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
    distributed = _run(runs, "distributed", 64)
    line = f"distributed c=64 answers/s ≥ {DISTRIBUTED_LIMIT:g}× thin relay"
    if distributed and thin:
        ratio = distributed["answers_per_s"] / thin["answers_per_s"]
        checks.append(Check(f"{line}: {ratio:.2f}×", ratio >= DISTRIBUTED_LIMIT))
    else:
        checks.append(Check(line, None))
    direct = _run(runs, "direct", 1)
    for system, limit in (("embedded", 5.0), ("distributed", 8.0)):
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
    checks.append(_keys(keys))
    checks.append(_long_chat(long_chat))
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
    errors += sum(r["errors"] for r in keys["runs"]) if keys else 0
    errors += sum(m["errors"] for m in long_chat["modes"]) if long_chat else 0
    errors += sum(r["errors"] for r in scaling or [])
    checks.append(Check(f"zero errors in every scenario: {errors}", errors == 0))
    return checks


def _keys(result: dict[str, Any] | None) -> Check:
    """Judged on the medians of alternating runs (``bench/keys.py``)."""
    line = f"embedded with keys c=64 answers/s ≥ {KEYS_LIMIT:g}× without"
    row = next((r for r in (result or {}).get("compared", []) if r["concurrency"] == 64), None)
    if row is None:
        return Check(line, None)
    cpu = row["without"]["cpu_ms_per_answer"], row["with_keys"]["cpu_ms_per_answer"]
    said = f"{row['ratio']:.2f}× (CPU ms/answer {cpu[0]:.2f} → {cpu[1]:.2f})"
    return Check(f"{line}: {said}", row["ratio"] >= KEYS_LIMIT)


def _long_chat(result: dict[str, Any] | None) -> Check:
    line = f"long chat: TTFT late/early ≤ {LONG_CHAT_LIMIT:g}×"
    modes = result["modes"] if result else []
    if not modes:
        return Check(line, None)
    said = ", ".join(
        f"{m['mode']} {m['ratio']:.2f}× (early turns asked first: {m['sequential_ratio']:.2f}×)"
        for m in modes
    )
    return Check(f"{line}: {said}", all(m["ratio"] <= LONG_CHAT_LIMIT for m in modes))
