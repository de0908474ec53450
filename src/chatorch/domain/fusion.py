"""Reciprocal rank fusion: one ranking out of several, by rank alone.

Hybrid retrieval asks the vector index (meaning) and the full-text index (exact words,
codes like ``ERR-4471``) and fuses their answers. Their scores are not comparable — a
cosine and a BM25 score live on different scales — so RRF uses only each item's rank:
``score(d) = Σ 1 / (k + rank_i(d))`` over the rankings that hold ``d`` (Cormack, Clarke
and Büttcher, SIGIR 2009). ``k`` = 60 is their constant, and Qdrant's and
Elasticsearch's default: it keeps one list's first place from outweighing agreement.
"""

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[K]], *, k: int = RRF_K, limit: int | None = None
) -> list[tuple[K, float]]:
    """The items of ``rankings`` (each best first) with their fused scores, best first.

    An item listed twice in one ranking counts at its better rank only. Ties go to the
    item with the better rank in any list, then to the earlier list: the same input
    always gives the same order.

    Args:
        rankings: item keys, best first; one sequence per retriever.
        k: damping constant (> 0): larger flattens the difference between ranks.
        limit: at most this many items; None for all.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, not {k}")
    scores: dict[K, float] = {}
    first_seen: dict[K, tuple[int, int]] = {}  # (best rank, list) for ties
    for position, ranking in enumerate(rankings):
        seen: set[K] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            if item not in first_seen or (rank, position) < first_seen[item]:
                first_seen[item] = (rank, position)
    fused = sorted(scores, key=lambda item: (-scores[item], first_seen[item]))
    if limit is not None:
        fused = fused[: max(limit, 0)]
    return [(item, scores[item]) for item in fused]
