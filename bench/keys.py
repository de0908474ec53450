"""API keys' cost: embedded with ``CHATORCH_AUTH_REQUIRED`` and a key on every request,
against embedded without.

``python -m bench --only keys [--quick]`` runs it as a section of the benchmarks (a full
run includes it). One ``chatorch serve`` at a time (SQLite, the in-process bus, the fake
upstream), loaded by ``bench/load.py`` at concurrency 1 and 64:

* **without** — no authentication: every request is the one local user;
* **with keys** — ``CHATORCH_AUTH_REQUIRED=true``; a key made with ``chatorch keys
  create`` in the server's database before it starts, sent by the load generator as
  ``Authorization: Bearer <key>`` on every request (``--key``). A key is looked up once
  and then believed for ``CHATORCH_KEY_CACHE_SECONDS`` (5 by default).

The two arms alternate, each on a fresh server and database, ``rounds`` times, each
going first in turn, so the machine's drift (on this shared machine, more than the 10%
the budget allows within a minute) falls on both; the figures are their medians.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.arms import Load, Plan, alternating, measured, medians
from bench.report import grid
from bench.scenarios import Target, Upstream, chatorch, chatorch_env, create_key, migrate

CONCURRENCY = (1, 64)
ARMS = ("without", "with keys")

FULL = Plan(rounds=2, seconds=10.0, warmup=2.0)
QUICK = Plan(rounds=2, seconds=3.0, warmup=1.0)


@contextmanager
def server(upstream: Upstream, workdir: Path, *, keys: bool, label: str) -> Iterator[Target]:
    """A fresh ``chatorch serve`` on a database of its own; with ``keys``, auth required
    and the target carrying a key made for it."""
    settings = {"database_url": f"sqlite+aiosqlite:///{workdir}/keys-{label}.db"}
    if keys:
        settings["auth_required"] = "true"
    env = chatorch_env(upstream, **settings)
    key = None
    if keys:
        migrate(env)
        key = create_key(env)
    with chatorch("serve", workdir, env, name=f"chatorch-serve-{label}") as (process, url):
        yield Target("chatorch", url, [process], key=key)


def measure_keys(
    plan: Plan,
    upstream: Upstream,
    workdir: Path,
    say: Callable[[str], None],
    load: Load,
) -> dict[str, Any]:
    """Both arms at both concurrencies, alternating; the runs and the comparison."""
    runs: list[dict[str, Any]] = []
    for round_, arm in alternating(plan.rounds, ARMS):
        label = f"{'keys' if arm == 'with keys' else 'open'}-{round_}"
        with server(upstream, workdir, keys=arm == "with keys", label=label) as target:
            runs += measured(
                load,
                target,
                upstream,
                plan,
                arm=arm,
                round_=round_,
                concurrencies=CONCURRENCY,
                say=say,
                what="embedded",
            )
    return {"runs": runs, "compared": compare(runs)}


_KEYS = ("answers_per_s", "cpu_ms_per_answer", "ttft_p50_ms", "latency_p50_ms", "errors")


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concurrency: each arm's medians, and answers/s with keys over without."""
    rows = []
    for concurrency, (without, with_keys) in medians(runs, ARMS, _KEYS, CONCURRENCY):
        rows.append(
            {
                "concurrency": concurrency,
                "without": without,
                "with_keys": with_keys,
                "ratio": with_keys["answers_per_s"] / without["answers_per_s"],
            }
        )
    return rows


def table(result: dict[str, Any]) -> str:
    headings = [
        "concurrency",
        "answers/s without",
        "with keys",
        "ratio",
        "CPU ms/answer without",
        "with keys",
        "TTFT p50 ms without",
        "with keys",
    ]
    rows = [
        [
            str(row["concurrency"]),
            f"{row['without']['answers_per_s']:,.0f}",
            f"{row['with_keys']['answers_per_s']:,.0f}",
            f"{row['ratio']:.2f}×",
            f"{row['without']['cpu_ms_per_answer']:.2f}",
            f"{row['with_keys']['cpu_ms_per_answer']:.2f}",
            f"{row['without']['ttft_p50_ms']:.1f}",
            f"{row['with_keys']['ttft_p50_ms']:.1f}",
        ]
        for row in result["compared"]
    ]
    return grid([headings, *rows])
