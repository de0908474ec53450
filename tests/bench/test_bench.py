"""The benchmark's own parts: its figures are right, and its references really relay.

The load generator and both reference relays run for real against the fake upstream
(a second or so each), so a broken relay or a miscounting generator fails here rather
than producing a plausible table.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.scenarios import Target, Upstream, fast_relay, thin_relay
from bench.systems import fake_upstream


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with fake_upstream(tmp_path_factory.mktemp("bench")) as (server, url):
        yield Upstream(server, url)


def run_load(target: Target, *, concurrency: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.load", target.dialect, target.url]
    argv += ["--concurrency", str(concurrency), "--seconds", "0.5", "--warmup", "0.2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    first, result = done.stdout.splitlines()
    assert first == "measuring"
    loaded: dict[str, Any] = json.loads(result)
    return loaded


@pytest.mark.parametrize("relay", [thin_relay, fast_relay], ids=["thin", "fast"])
def test_each_reference_relays_whole_answers(
    relay: object, upstream: Upstream, tmp_path: Path
) -> None:
    with relay(upstream, tmp_path, None) as target:  # type: ignore[operator]
        result = run_load(target, concurrency=8)
    assert result["errors"] == 0, result["first_errors"]
    assert result["answers"] > 0
    assert result["tokens"] == 50 * result["answers"]  # every token of every answer


def test_an_answer_missing_tokens_counts_as_an_error(upstream: Upstream) -> None:
    """Asked for 51 tokens, the fake's 50-token answers are all incomplete."""
    argv = [sys.executable, "-m", "bench.load", "openai", upstream.url, "--tokens", "51"]
    argv += ["--seconds", "0.3", "--warmup", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["answers"] == 0
    assert result["errors"] > 0
    assert "50 of 51 tokens" in result["first_errors"][0]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert report.percentile(values, 50) == 50.0
    assert report.percentile(values, 99) == 99.0
    assert report.percentile([3.0], 99) == 3.0


def _run(system: str, concurrency: int, **figures: float) -> dict[str, object]:
    return {"system": system, "concurrency": concurrency, "errors": 0} | figures


def test_the_budget_is_judged_on_the_runs_figures() -> None:
    runs = [
        _run("direct", 1, answers_per_s=1000, ttft_p50_ms=0.3),
        _run("thin relay", 64, answers_per_s=200, ttft_p50_ms=50),
        _run("fast relay", 64, answers_per_s=600, ttft_p50_ms=20),
        _run("embedded", 64, answers_per_s=210, ttft_p50_ms=60),
        _run("embedded", 1, answers_per_s=100, ttft_p50_ms=6.0),
        _run("distributed", 1, answers_per_s=50, ttft_p50_ms=8.0),
        _run("distributed", 64, answers_per_s=130, ttft_p50_ms=400),
    ]
    idle = [{"streams": 10_000, "opened": 10_000, "dropped": 0, "errors": 0, "kb_per_stream": 21}]
    met = {check.line.split(":")[0]: check.met for check in report.budget(runs, idle)}
    assert met == {
        "embedded c=64 answers/s ≥ 1.0× thin relay": True,
        "embedded c=1 TTFT p50 overhead < 5 ms": False,  # 5.7 ms
        "distributed c=64 answers/s ≥ 0.7× thin relay": False,  # 0.65×
        "distributed c=1 TTFT p50 overhead < 8 ms": True,  # 7.7 ms
        "embedded with keys c=64 answers/s ≥ 0.9× without": None,  # not run
        "long chat": None,  # not run
        "10,000 idle streams on one gateway, < 20 KB each": False,
        "zero errors in every scenario": True,
    }
