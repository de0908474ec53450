"""Scaling: distributed answers/s with more workers and more gateways.

``python -m bench --only scaling [--quick]`` runs it; a full run leaves it out (it
starts six deployments). Each deployment — 1 or 2 gateways, 1, 2 or 4 workers — is
plain processes on this one machine, on a fresh PostgreSQL database and NATS/Redis
namespace, loaded by ``bench/load.py`` at concurrency 64 with the virtual users spread
over the gateways in turn. Every process shares the machine's cores with the others,
the load generator, the fake upstream and the backing servers, so the figures say how
the work divides and what each kind of process costs per answer, not what more
machines would add. The backing servers' CPU per answer is read from their processes
(``bench.backing.ServersCpu``): anything else using them meanwhile is counted too.

Two last runs, one worker and one gateway and then two, ask a model that streams its
50 tokens 20 ms apart (``fake-slow-20``): 53 events per answer instead of 4, so the
difference from the same shapes' first runs is what each event costs every kind of
process — and, with two gateways, what one costs the gateway that has no stream on its
chat: every gateway receives every chat's live events (ADR 0007).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.backing import backing_services, missing
from bench.report import grid
from bench.scenarios import Upstream, deployment

CONCURRENCY = 64
SHAPES = ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4))  # (gateways, workers)
MODEL = "fake"  # the whole answer in one or two reads: 4 events (step, step, token, done)
STREAMED = "fake-slow-20"  # a token every 20 ms, each its own token event: 53 events
BACKING = ("PostgreSQL", "NATS", "Redis")  # their CPU is read too, whoever else uses them

Load = Callable[..., dict[str, Any]]  # bench.__main__.load


@dataclass(frozen=True, slots=True)
class ScalingPlan:
    seconds: float  # measured window of one deployment
    warmup: float


FULL = ScalingPlan(seconds=10.0, warmup=2.0)
QUICK = ScalingPlan(seconds=3.0, warmup=1.0)


def measure_scaling(
    plan: ScalingPlan,
    upstream: Upstream,
    workdir: Path,
    say: Callable[[str], None],
    load: Load,
) -> list[dict[str, Any]]:
    """One run per shape, each on fresh backing services."""
    absent = missing()
    if absent:
        say(f"scaling: left out, not listening: {', '.join(absent)}")
        return []
    runs = []
    streamed = [(1, 1, STREAMED), (2, 1, STREAMED)]
    for gateways, workers, model in [*((g, w, MODEL) for g, w in SHAPES), *streamed]:
        say(f"scaling: {gateways} gateway(s), {workers} worker(s), {model}, c={CONCURRENCY}")
        settings = {"llm": f"openai:{model}"}
        with (
            backing_services() as backing,
            deployment(
                upstream, workdir, backing, gateways=gateways, workers=workers, settings=settings
            ) as target,
        ):
            run = load(
                target,
                upstream,
                concurrency=CONCURRENCY,
                seconds=plan.seconds,
                warmup=plan.warmup,
                backing=True,
            )
        shape = {"gateways": gateways, "workers": workers, "model": model}
        runs.append(shape | {"concurrency": CONCURRENCY} | run)
    return runs


def table(runs: list[dict[str, Any]]) -> str:
    headings = [
        "gateways",
        "workers",
        "model",
        "answers/s",
        "TTFT p50 ms",
        "latency p50 ms",
        "errors",
        "CPU ms/answer",
        "gateways' CPU ms/answer",
        "workers'",
        *(f"{name}'s" for name in BACKING),
    ]
    rows = [headings]
    for run in runs:
        kinds = run.get("cpu_ms_per_answer_by_kind", {})
        backing = run.get("backing_cpu_ms_per_answer", {})
        rows.append(
            [
                str(run["gateways"]),
                str(run["workers"]),
                run.get("model", MODEL),
                f"{run['answers_per_s']:,.0f}",
                f"{run['ttft_p50_ms']:.1f}",
                f"{run['latency_p50_ms']:.1f}",
                str(run["errors"]),
                f"{run['cpu_ms_per_answer']:.2f}",
                f"{kinds.get('gateway', float('nan')):.2f}",
                f"{kinds.get('worker', float('nan')):.2f}",
                *(f"{backing.get(name, float('nan')):.2f}" for name in BACKING),
            ]
        )
    return grid(rows)
