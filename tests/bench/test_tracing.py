"""The tracing benchmark's arithmetic: medians of each arm, and on's change from off."""

from typing import Any

from bench import tracing


def _run(arm: str, concurrency: int, answers_per_s: float, cpu: float) -> dict[str, Any]:
    return {
        "arm": arm,
        "concurrency": concurrency,
        "answers_per_s": answers_per_s,
        "cpu_ms_per_answer": cpu,
        "ttft_p50_ms": 5.0,
        "latency_p50_ms": 20.0,
    }


def test_the_cost_compares_the_medians_of_each_arm() -> None:
    runs = [
        _run("off", 64, 100.0, 4.0),
        _run("off", 64, 300.0, 2.0),  # an outlier the median ignores
        _run("off", 64, 110.0, 3.0),
        _run("on", 64, 90.0, 4.0),
        _run("on", 64, 99.0, 3.5),
        _run("on", 64, 10.0, 9.0),
        _run("on", 1, 40.0, 6.0),  # concurrency 1 has no run without tracing
    ]
    (row,) = tracing.cost(runs)
    assert row["concurrency"] == 64
    assert row["off"]["answers_per_s"] == 110.0
    assert row["on"]["answers_per_s"] == 90.0
    assert round(row["answers_per_s_change_pct"], 2) == -18.18
    assert row["cpu_ms_per_answer_added"] == 1.0
    lines = tracing.table({"cost": [row]}).splitlines()
    assert "-18.2%" in lines[2]
