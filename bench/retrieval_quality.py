"""Retrieval quality on a fixed set: dense, lexical and their fusion (ADR 0019).

``python -m bench.retrieval_quality [--set PATH] [--json]``

Each query of the set (``tests/fixtures/retrieval_set.json``: 30 passages, 30
queries, each with one relevant passage; ``exact`` queries carry a code or a product
name, ``semantic`` ones are paraphrases) is asked three ways:

* dense: the embedder of CHATORCH_EMBEDDINGS (WordLlama by default, offline) and the
  real ``QdrantVectorIndex`` in local mode, in a temporary folder;
* lexical: Okapi BM25 over the same passages, where a passage sharing any word with
  the query is a candidate — what a full-text index ranks; and, for comparison, only
  passages holding *every* word of the query, as a plain full-text match returns;
  BM25 is also run without English stopwords, as PostgreSQL's ``english`` text search
  drops them;
* hybrid: reciprocal rank fusion (``domain.fusion``, k = 60) of dense and each BM25.

It prints R@1, R@3 and MRR for each, overall and by kind. Runs offline with the
default embedder; nothing here is a test, and nothing is timed.
"""

import argparse
import asyncio
import json
import math
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from chatorch.adapters.embeddings.openai import OpenAIEmbedder
from chatorch.adapters.embeddings.wordllama import WordLlamaEmbedder
from chatorch.adapters.qdrant.vectors import QdrantVectorIndex
from chatorch.domain.embeddings import parse_embeddings
from chatorch.domain.entities import FileChunk
from chatorch.domain.fusion import reciprocal_rank_fusion
from chatorch.ports.embeddings import Embedder
from chatorch.ports.vectors import IndexedChunk
from chatorch.settings import Settings

SET = Path(__file__).parents[1] / "tests" / "fixtures" / "retrieval_set.json"
OWNER = UUID(int=1)
_WORD = re.compile(r"[^\W_]+")
# English function words, as PostgreSQL's english text search configuration drops them
_FUNCTION_WORDS = """a about after an and are as at be been before but by can could did do
does for from had has have how i if in into is it its me my no not of on or our should so
than that the their them then there these they this to was we were what when where which
who why will with would you your"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())

Ranking = list[str]  # passage ids, best first; those not found are left out


class BM25:
    """Okapi BM25 (k1 = 1.2, b = 0.75) with Lucene's idf, which is never negative."""

    def __init__(self, documents: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self._terms = {key: Counter(words) for key, words in documents.items()}
        self._lengths = {key: len(words) for key, words in documents.items()}
        self._average = sum(self._lengths.values()) / max(len(documents), 1)
        frequency = Counter(word for words in documents.values() for word in set(words))
        n = len(documents)
        self._idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w, df in frequency.items()}
        self._k1, self._b = k1, b

    def rank(self, query: list[str], *, every_word: bool = False) -> Ranking:
        scores: dict[str, float] = {}
        for key, terms in self._terms.items():
            if every_word and not all(word in terms for word in query):
                continue
            norm = self._k1 * (1 - self._b + self._b * self._lengths[key] / self._average)
            score = sum(
                self._idf[word] * terms[word] * (self._k1 + 1) / (terms[word] + norm)
                for word in set(query)
                if terms[word]
            )
            if score > 0:
                scores[key] = score
        return sorted(scores, key=lambda key: (-scores[key], key))


def words(text: str, *, stop: bool = False) -> list[str]:
    found = [word.lower() for word in _WORD.findall(text)]
    return [word for word in found if word not in STOPWORDS] if stop else found


def measure(rankings: Sequence[Ranking], relevant: Sequence[str]) -> dict[str, float]:
    """R@1, R@3 and MRR; a relevant passage not found counts as a miss."""
    positions = [
        ranking.index(gold) + 1 if gold in ranking else None
        for ranking, gold in zip(rankings, relevant, strict=True)
    ]
    n = len(positions)
    return {
        "R@1": sum(p == 1 for p in positions) / n,
        "R@3": sum(p is not None and p <= 3 for p in positions) / n,
        "MRR": sum(1 / p for p in positions if p is not None) / n,
    }


async def embedder_of(settings: Settings) -> Embedder:
    choice = parse_embeddings(settings.embeddings)
    if choice.provider == "wordllama":
        return WordLlamaEmbedder()
    assert choice.model is not None
    key = settings.openai_api_key
    return await OpenAIEmbedder.connect(
        model=choice.model,
        base_url=settings.openai_base_url,
        api_key=key.get_secret_value() if key else None,
        timeout=settings.llm_timeout,
        dimensions=choice.dimensions,
    )


async def dense(
    embedder: Embedder, passages: dict[str, str], queries: list[str], folder: Path
) -> list[Ranking]:
    """Each query's passages by the real index, in local mode: one file per passage."""
    files = {uuid5(OWNER, key): key for key in passages}
    index = await QdrantVectorIndex.connect(
        f"local:{folder}", collection="quality", dimension=embedder.dimension
    )
    try:
        vectors = await embedder.embed(list(passages.values()))
        await index.upsert(
            [
                IndexedChunk(OWNER, FileChunk(file_id, 0, passages[key]), vector)
                for (file_id, key), vector in zip(files.items(), vectors, strict=True)
            ]
        )
        rankings = []
        for vector in await embedder.embed(queries):
            hits = await index.query(vector, owner_id=OWNER, limit=len(passages))
            rankings.append([files[hit.chunk.file_id] for hit in hits])
        return rankings
    finally:
        await index.close()


async def evaluate(data: dict[str, Any], embedder: Embedder) -> dict[str, Any]:
    passages = {p["id"]: p["text"] for p in data["passages"]}
    queries = data["queries"]
    texts = [q["text"] for q in queries]
    bm25 = BM25({key: words(text) for key, text in passages.items()})
    content = BM25({key: words(text, stop=True) for key, text in passages.items()})
    with tempfile.TemporaryDirectory() as folder:
        meaning = await dense(embedder, passages, texts, Path(folder))
    lexical = [bm25.rank(words(text)) for text in texts]
    unstopped = [content.rank(words(text, stop=True)) for text in texts]
    methods = {
        f"dense ({embedder.name})": meaning,
        "lexical (BM25, any word)": lexical,
        "lexical (BM25, no stopwords)": unstopped,
        "lexical (every word)": [bm25.rank(words(text), every_word=True) for text in texts],
        "hybrid (RRF, dense + BM25)": fused(meaning, lexical),
        "hybrid (RRF, dense + BM25 no stopwords)": fused(meaning, unstopped),
    }
    results: dict[str, Any] = {}
    for name, rankings in methods.items():
        row = {"all": measure(rankings, [q["relevant"] for q in queries])}
        for kind in ("exact", "semantic"):
            chosen = [i for i, q in enumerate(queries) if q["kind"] == kind]
            row[kind] = measure(
                [rankings[i] for i in chosen], [queries[i]["relevant"] for i in chosen]
            )
        results[name] = row
    return results


def fused(meaning: list[Ranking], lexical: list[Ranking]) -> list[Ranking]:
    return [
        [key for key, _ in reciprocal_rank_fusion([d, w])]
        for d, w in zip(meaning, lexical, strict=True)
    ]


def table(results: dict[str, Any], *, queries: int, passages: int) -> str:
    lines = [
        f"{queries} queries, {passages} passages",
        f"{'method':40} {'R@1':>5} {'R@3':>5} {'MRR':>5} | exact R@1 MRR | semantic R@1 MRR",
    ]
    for name, row in results.items():
        a, e, s = row["all"], row["exact"], row["semantic"]
        lines.append(
            f"{name:40} {a['R@1']:5.2f} {a['R@3']:5.2f} {a['MRR']:5.3f} |"
            f" {e['R@1']:9.2f} {e['MRR']:5.3f} | {s['R@1']:12.2f} {s['MRR']:5.3f}"
        )
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", type=Path, default=SET, help="the retrieval set (JSON)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    data = json.loads(args.set.read_text(encoding="utf-8"))
    embedder = await embedder_of(Settings())
    try:
        results = await evaluate(data, embedder)
    finally:
        await embedder.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(table(results, queries=len(data["queries"]), passages=len(data["passages"])))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
