"""Two arms of one system measured in turn (A/B), and compared on their medians.

Run one after the other, two configurations differ by whatever busy spell of this
shared machine falls on one of them (0.80× to 1.35× for the same code). Alternating
them, each going first in turn, and comparing medians puts the spells on both.
"""

import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Load = Callable[..., dict[str, Any]]  # bench.__main__.load


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int  # alternations of the arms
    seconds: float  # measured window of one run
    warmup: float


def alternating(rounds: int, arms: Sequence[str]) -> Iterator[tuple[int, str]]:
    """``(round, arm)`` for every round, the arms' order reversed every other round."""
    for round_ in range(1, rounds + 1):
        for arm in arms if round_ % 2 else reversed(arms):
            yield round_, arm


def measured(
    load: Load,
    target: Any,
    upstream: Any,
    plan: Plan,
    *,
    arm: str,
    round_: int,
    concurrencies: Sequence[int],
    say: Callable[[str], None],
    what: str,
) -> list[dict[str, Any]]:
    """One arm's runs in one round, one per concurrency, labelled for ``medians``."""
    runs = []
    for concurrency in concurrencies:
        say(f"{what} {arm}, round {round_}, concurrency {concurrency}")
        run = load(
            target, upstream, concurrency=concurrency, seconds=plan.seconds, warmup=plan.warmup
        )
        runs.append({"arm": arm, "round": round_, "concurrency": concurrency} | run)
    return runs


def medians(
    runs: list[dict[str, Any]],
    arms: Sequence[str],
    keys: Sequence[str],
    concurrencies: Sequence[int],
) -> Iterator[tuple[int, list[dict[str, float]]]]:
    """Per concurrency both arms ran at: each arm's median of each of ``keys``."""
    for concurrency in concurrencies:
        ran = [
            [r for r in runs if (r["arm"], r["concurrency"]) == (arm, concurrency)] for arm in arms
        ]
        if all(ran):
            yield (
                concurrency,
                [
                    {key: float(statistics.median(r[key] for r in arm_runs)) for key in keys}
                    for arm_runs in ran
                ],
            )
