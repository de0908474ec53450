"""Run the benchmarks: ``python -m bench [--quick] [--only NAME …]``.

Starts everything on 127.0.0.1 (the fake upstream, the reference relays, chatorch
embedded and distributed), runs bounded load on each at concurrency 1 and 64, holds
idle streams on one gateway, measures file ingestion and answers with retrieval on one
embedded server (``bench/memory.py``), stops everything, prints the tables and the
budget, and writes ``bench/results/<date>.json``. Distributed and idle runs need
PostgreSQL, Redis and NATS on their usual ports; without them they are left out, with
the reason. ``--only tracing`` measures what exporting traces costs (``bench/tracing.py``)
and ``--only scaling`` distributed throughput with more gateways and workers
(``bench/scaling.py``); neither is part of a full run. ``long-chat`` (one chat of many
questions, ``bench/longchat.py``) and ``keys`` (embedded with API keys required, against
embedded without, ``bench/keys.py``) are.
"""

import argparse
import contextlib
import dataclasses
import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

from bench import arms, longchat, memory, report
from bench import keys as keys_cost
from bench import scaling as scaling_runs
from bench import tracing as tracing_cost
from bench.backing import ServersCpu, backing_services, missing
from bench.memory import MemoryPlan
from bench.profile import Recording
from bench.scenarios import SYSTEMS, Target, Upstream, chatorch, chatorch_env, migrate
from bench.systems import ROOT, Usage, fake_upstream, rss

P = TypeVar("P")
RESULTS = ROOT / "bench" / "results"
CONCURRENCY = (1, 64)
TOKENS = 50
IDLE = (1_000, 5_000, 10_000)
IDLE_QUICK = (1_000,)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load(
    target: Target,
    upstream: Upstream,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    profile: Path | None = None,
    backing: bool = False,
) -> dict[str, Any]:
    """One bounded load run: the figures, with the system's and the upstream's usage.

    With ``profile``, py-spy samples the system's first process over the window; with
    ``backing``, the backing servers' CPU is read too. A system of several processes
    also has its CPU per answer by kind of process (gateway, worker).
    """
    argv = [sys.executable, "-m", "bench.load", target.dialect, *target.urls]
    argv += ["--concurrency", str(concurrency), "--seconds", str(seconds)]
    argv += ["--warmup", str(warmup), "--tokens", str(TOKENS)]
    if target.key:
        argv += ["--key", target.key]
    with _child(argv) as process:
        if _read(process) != "measuring":
            raise RuntimeError("the load generator stopped before measuring")
        recording = None
        if profile is not None:
            recording = Recording(target.servers[0].process.pid, seconds, profile)
        with (
            Usage(target.servers) as system,
            Usage([upstream.server]) as upstream_use,
            ServersCpu() if backing else contextlib.nullcontext() as servers,
        ):
            raw = json.loads(_read(process))
        if recording is not None:
            _say(recording.wait() or "")
    run = report.figures(raw, cpu_seconds=system.used.cpu_seconds, peak_rss=system.used.peak_rss)
    answers = max(raw["answers"], 1)
    run["upstream_cpu_ms_per_answer"] = 1000 * upstream_use.used.cpu_seconds / answers
    if len(target.servers) > 1:
        run["cpu_ms_per_answer_by_kind"] = report.by_kind(system.used.by_server, answers)
    if isinstance(servers, ServersCpu):
        run["backing_cpu_ms_per_answer"] = {
            name: 1000 * seconds / answers for name, seconds in servers.seconds.items()
        }
    return run


def idle_round(upstream: Upstream, workdir: Path, streams: int, *, hold: float) -> dict[str, Any]:
    """Hold ``streams`` idle event streams on a fresh gateway; its memory per stream."""
    with backing_services() as backing:
        env = chatorch_env(upstream, **backing.settings)
        migrate(env)
        with chatorch("gateway", workdir, env) as (gateway, url):
            argv = [sys.executable, "-m", "bench.idle", url, "--streams", str(streams)]
            with _child(argv, stdin=True) as process:
                if _read(process) != "chats":
                    raise RuntimeError("the idle client could not create its chats")
                time.sleep(1.0)
                before = rss([gateway])
                _tell(process)
                if not _read(process).startswith("open "):
                    raise RuntimeError("the idle client could not open its streams")
                time.sleep(hold)
                gateway.check_alive()
                held = rss([gateway])
                _tell(process)
                result: dict[str, Any] = json.loads(_read(process))
    opened = max(result["opened"], 1)
    return result | {
        "rss_before_mb": before / 2**20,
        "rss_open_mb": held / 2**20,
        "kb_per_stream": (held - before) / opened / 1024,
    }


@contextlib.contextmanager
def _child(argv: list[str], *, stdin: bool = False) -> Iterator["subprocess.Popen[str]"]:
    """A helper process speaking lines on stdout; killed if it does not end after use."""
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        text=True,
    )
    try:
        yield process
    finally:
        try:
            process.wait(timeout=5)  # it has printed its last line: let it finish
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        for pipe in (process.stdout, process.stdin):
            if pipe is not None:
                pipe.close()


def _read(process: "subprocess.Popen[str]") -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def _tell(process: "subprocess.Popen[str]") -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


@dataclass(frozen=True, slots=True)
class Plan:
    """What one invocation runs, and for how long."""

    systems: list[str]
    idle_streams: tuple[int, ...]
    seconds: float
    warmup: float
    hold: float  # s idle streams are held before they are counted
    profile: bool = False  # py-spy each system at concurrency 64
    memory: MemoryPlan | None = None  # files and retrieval (bench/memory.py)
    tracing: arms.Plan | None = None  # spans exported or not (bench/tracing.py)
    long_chat: longchat.LongChatPlan | None = None  # one chat of many turns (bench/longchat.py)
    keys: arms.Plan | None = None  # API keys required or not (bench/keys.py)
    scaling: scaling_runs.ScalingPlan | None = None  # more gateways and workers (bench/scaling.py)


def measure_systems(plan: Plan, upstream: Upstream, workdir: Path) -> list[dict[str, Any]]:
    """Every chosen system at every concurrency, one system running at a time."""
    absent = missing()
    runs: list[dict[str, Any]] = []
    for name in plan.systems:
        system, needs_backing = SYSTEMS[name]
        if needs_backing and absent:
            _say(f"{name}: left out, not listening: {', '.join(absent)}")
            continue
        backing = backing_services() if needs_backing else contextlib.nullcontext()
        with backing as services, system(upstream, workdir, services) as target:
            for concurrency in CONCURRENCY:
                _say(f"{name}, concurrency {concurrency}: {plan.seconds:g} s")
                profile = None
                if plan.profile and concurrency == max(CONCURRENCY):
                    profile = workdir / f"{name.replace(' ', '-')}-{concurrency}.collapsed"
                    _say(f"profiling {target.servers[0].name} (py-spy)")
                run = load(
                    target,
                    upstream,
                    concurrency=concurrency,
                    seconds=plan.seconds,
                    warmup=plan.warmup,
                    profile=profile,
                    backing=needs_backing,
                )
                runs.append({"system": name, "concurrency": concurrency} | run)
    return runs


def measure_idle(plan: Plan, upstream: Upstream, workdir: Path) -> list[dict[str, Any]]:
    if not plan.idle_streams:
        return []
    absent = missing()
    if absent:
        _say(f"idle streams: left out, not listening: {', '.join(absent)}")
        return []
    rounds = []
    for count in plan.idle_streams:
        _say(f"idle streams: {count:,} on one gateway")
        rounds.append(idle_round(upstream, workdir, count, hold=plan.hold))
    return rounds


def _pick(chosen: list[str], name: str, quick: bool, short: P, full: P) -> P | None:
    """A section's plan: none unless chosen, the short one with ``--quick``."""
    if name not in chosen:
        return None
    return short if quick else full


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 1,000 idle streams")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*SYSTEMS, "keys", "idle", "memory", "long-chat", "tracing", "scaling"],
        help="run just these",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy each system at concurrency 64"
    )
    args = parser.parse_args(argv)
    chosen = args.only or [*SYSTEMS, "idle", "memory", "long-chat", "keys"]  # not all: asked
    plan = Plan(
        systems=[name for name in SYSTEMS if name in chosen],
        idle_streams=() if "idle" not in chosen else IDLE_QUICK if args.quick else IDLE,
        seconds=3.0 if args.quick else 10.0,
        warmup=1.0 if args.quick else 2.0,
        hold=3.0 if args.quick else 10.0,
        profile=args.profile,
        memory=_pick(chosen, "memory", args.quick, memory.QUICK, memory.FULL),
        tracing=_pick(chosen, "tracing", args.quick, tracing_cost.QUICK, tracing_cost.FULL),
        long_chat=_pick(chosen, "long-chat", args.quick, longchat.QUICK, longchat.FULL),
        keys=_pick(chosen, "keys", args.quick, keys_cost.QUICK, keys_cost.FULL),
        scaling=_pick(chosen, "scaling", args.quick, scaling_runs.QUICK, scaling_runs.FULL),
    )
    with tempfile.TemporaryDirectory(prefix="chatorch-bench-") as tmp:
        workdir = Path(tmp)
        with fake_upstream(workdir) as (server, url):
            upstream = Upstream(server, url)
            runs = measure_systems(plan, upstream, workdir)
            idle = measure_idle(plan, upstream, workdir)
            files = None
            if plan.memory is not None:
                files = memory.measure_memory(plan.memory, upstream, workdir, _say)
            traced = None
            if plan.tracing is not None:
                traced = tracing_cost.measure_tracing(plan.tracing, upstream, workdir, _say, load)
            keyed = None
            if plan.keys is not None:
                keyed = keys_cost.measure_keys(plan.keys, upstream, workdir, _say, load)
            long_chat = None
            if plan.long_chat is not None:
                long_chat = longchat.measure_long_chat(plan.long_chat, upstream, workdir, _say)
            scaled = None
            if plan.scaling is not None:
                scaled = scaling_runs.measure_scaling(plan.scaling, upstream, workdir, _say, load)
    report.with_ratios(runs)
    checks = report.budget(
        runs, idle, memory=files, keys=keyed, long_chat=long_chat, scaling=scaled
    )
    if runs:
        print(report.table(runs))
    if any("ratio" in run for run in runs):
        print("\nRatios to the thin relay at the same concurrency:")
        print(report.table(runs, ratios=True))
    if idle:
        print("\nIdle event streams on one gateway:")
        print(report.idle_table(idle))
    if files:
        print("\nMemory: files on one embedded server (bench/memory.py).")
        print(memory.tables(files))
    if traced:
        print("\nTracing: answers with spans exported over OTLP/HTTP, and without.")
        print(tracing_cost.table(traced))
    if keyed:
        print("\nAPI keys: embedded with a key on every request, and without (medians).")
        print(keys_cost.table(keyed))
    if long_chat and long_chat["modes"]:
        print("\nLong chat: one client, one chat, questions one after another.")
        print(longchat.table(long_chat))
    if scaled:
        concurrency = scaling_runs.CONCURRENCY
        print(f"\nScaling: distributed at c={concurrency}, all processes on this one machine.")
        print(scaling_runs.table(scaled))
    print("\nBudget:")
    print("\n".join(str(check) for check in checks))
    kind = "-quick" if args.quick else "-partial" if args.only else ""
    path = _save(
        runs,
        idle,
        files,
        checks,
        plan=plan,
        kind=kind,
        traced=traced,
        keyed=keyed,
        long_chat=long_chat,
        scaled=scaled,
    )
    print(f"\nwrote {path.relative_to(ROOT)}")


def _save(
    runs: list[dict[str, Any]],
    idle: list[dict[str, Any]],
    files: dict[str, Any] | None,
    checks: list[report.Check],
    *,
    plan: Plan,
    kind: str,
    traced: dict[str, Any] | None = None,
    keyed: dict[str, Any] | None = None,
    long_chat: dict[str, Any] | None = None,
    scaled: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the results: ``<date>.json`` for a full run, with a suffix otherwise."""
    now = datetime.datetime.now(datetime.UTC)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{now:%Y-%m-%d}{kind}.json"
    document = {
        "at": now.isoformat(timespec="seconds"),
        "kind": kind.lstrip("-") or "full",
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "method": {
            "seconds": plan.seconds,
            "warmup": plan.warmup,
            "tokens": TOKENS,
            "concurrency": CONCURRENCY,
            "idle_hold_seconds": plan.hold,
            "memory": None if plan.memory is None else dataclasses.asdict(plan.memory),
            "tracing": None if plan.tracing is None else dataclasses.asdict(plan.tracing),
            "long_chat": None if plan.long_chat is None else dataclasses.asdict(plan.long_chat),
            "keys": None if plan.keys is None else dataclasses.asdict(plan.keys),
            "scaling": None if plan.scaling is None else dataclasses.asdict(plan.scaling),
        },
        "runs": runs,
        "idle_streams": idle,
        "memory": files,
        "tracing": traced,
        "keys": keyed,
        "long_chat": long_chat,
        "scaling": scaled,
        "budget": [{"line": check.line, "met": check.met} for check in checks],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


if __name__ == "__main__":
    main()
