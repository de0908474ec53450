"""The memory benchmark's own parts: its documents, its arithmetic, and one tiny real run.

Nothing here is timed: the run checks that every file became ready, every answer came
whole, and that the answers with the file had passages and the others none.
"""

import io
from pathlib import Path
from typing import Any

import pypdf

from bench import memory, report
from bench.scenarios import Upstream
from bench.systems import fake_upstream
from chatorch.domain.arithmetic import extract_expression


def test_documents_are_the_same_for_the_same_arguments_and_read_as_pages() -> None:
    first = memory.document("pdf", 1, 3)
    assert first == memory.document("pdf", 1, 3)
    assert first.data != memory.document("pdf", 2, 3).data  # no upload is a duplicate
    pages = pypdf.PdfReader(io.BytesIO(first.data)).pages
    assert len(pages) == 3
    assert all(len(page.extract_text()) > 1_500 for page in pages)
    markdown = memory.document("markdown", 1, 3)
    assert markdown.data.decode().count("\n## ") == 3
    assert markdown.chars > 3 * 1_800


def test_no_question_looks_like_arithmetic() -> None:
    """The fake upstream answers arithmetic with a calculator call, not 50 tokens."""
    assert all(extract_expression(q) is None for q in memory.questions(48))


def _arm(concurrency: int, retrieval: bool, ttft: float, cpu: float) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "retrieval": retrieval,
        "ttft_p50_ms": ttft,
        "latency_p50_ms": ttft + 1,
        "cpu_ms_per_answer": cpu,
    }


def test_the_overhead_is_on_minus_off_at_each_concurrency() -> None:
    answers = [_arm(1, True, 12.0, 9.0), _arm(1, False, 4.0, 5.0), _arm(8, True, 30.0, 9.0)]
    (row,) = memory.overhead(answers)  # concurrency 8 has no answers without retrieval
    assert row == {
        "concurrency": 1,
        "ttft_p50_ms": 8.0,
        "ttft_ratio": 3.0,
        "latency_p50_ms": 8.0,
        "cpu_ms_per_answer": 4.0,
    }


def test_ingestion_rates_are_medians_of_each_files_own() -> None:
    files = [
        {
            "kind": "pdf",
            "status": "ready",
            "parts": 20,
            "chunks": 40,
            "chars": 40_000,
            "bytes": 50 * 1024,
            "upload_ms": 5.0,
            "ready_ms": ms,
            "cpu_ms": 100.0,
        }
        for ms in (100.0, 200.0, 400.0)
    ]
    files.append(files[0] | {"status": "failed"})  # left out
    (pdf,) = memory.ingestion_summary(files)
    assert pdf["files"] == 3
    assert pdf["ready_p50_ms"] == 200.0
    assert pdf["parts_per_s"] == 100.0  # 200, 100, 50 pages/s
    assert pdf["chunks_per_s"] == 200.0


def test_the_budget_counts_the_memory_errors() -> None:
    checks = report.budget([], [], memory={"errors": 2})
    assert checks[-1].line == "zero errors in every scenario: 2"
    assert checks[-1].met is False


def test_a_tiny_run_reads_every_file_and_answers_whole(tmp_path: Path) -> None:
    plan = memory.MemoryPlan(
        files=1, pages=2, rounds=2, block={1: 2, 8: 8}, repeats=3, index_sizes=(200,)
    )
    with fake_upstream(tmp_path) as (server, url):
        result = memory.measure_memory(plan, Upstream(server, url), tmp_path, lambda _: None)
    assert result["errors"] == 0
    assert [f["status"] for f in result["files"]] == ["ready", "ready"]
    assert all(f["chunks"] > 0 for f in result["files"])
    assert {(a["concurrency"], a["retrieval"]): a["passages"] for a in result["answers"]} == {
        (1, True): 4,
        (1, False): 0,
        (8, True): 4,
        (8, False): 0,
    }
    assert all(a["answers"] == (4 if a["concurrency"] == 1 else 16) for a in result["answers"])
    assert [row["chunks"] for row in result["vector_query_by_index_size"]][-1] == 200
    assert "whole retrieval" in memory.tables(result)
