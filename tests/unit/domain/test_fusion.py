"""Reciprocal rank fusion: by rank alone, deterministic, bounded."""

import pytest

from chatorch.domain.fusion import RRF_K, reciprocal_rank_fusion


class TestFusion:
    def test_scores_are_the_sum_of_one_over_k_plus_rank(self) -> None:
        fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
        assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})

    def test_agreement_beats_one_first_place(self) -> None:
        dense = ["p02", "p01", "p13"]  # near codes swapped by meaning
        lexical = ["p01", "p09", "p02"]  # the exact code first by its words
        assert [key for key, _ in reciprocal_rank_fusion([dense, lexical])][:2] == ["p01", "p02"]

    def test_an_item_in_one_list_only_still_counts(self) -> None:
        assert [key for key, _ in reciprocal_rank_fusion([["a"], []])] == ["a"]

    def test_ties_go_to_the_better_rank_then_the_earlier_list(self) -> None:
        assert [key for key, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"]])] == ["a", "b"]
        assert [key for key, _ in reciprocal_rank_fusion([["x"], ["y"]])] == ["x", "y"]
        assert [key for key, _ in reciprocal_rank_fusion([["y"], ["x"]])] == ["y", "x"]

    def test_a_repeat_within_one_list_counts_once_at_its_better_rank(self) -> None:
        assert dict(reciprocal_rank_fusion([["a", "a", "b"]])) == pytest.approx(
            {"a": 1 / (RRF_K + 1), "b": 1 / (RRF_K + 3)}
        )

    def test_limit(self) -> None:
        rankings = [["a", "b", "c"], ["c", "d"]]
        assert len(reciprocal_rank_fusion(rankings, limit=2)) == 2
        assert reciprocal_rank_fusion(rankings, limit=0) == []
        assert len(reciprocal_rank_fusion(rankings)) == 4

    def test_any_hashable_key(self) -> None:
        fused = reciprocal_rank_fusion([[("file", 0), ("file", 1)], [("file", 1)]])
        assert fused[0][0] == ("file", 1)

    def test_nothing_in_nothing_out(self) -> None:
        assert reciprocal_rank_fusion([]) == []
        assert reciprocal_rank_fusion([[], []]) == []

    def test_k_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="k must be positive"):
            reciprocal_rank_fusion([["a"]], k=0)
