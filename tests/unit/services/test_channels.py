"""Splitting an answer at a platform's limit: every part fits, no word is cut in two
when a part can end at a space, and the parts joined are the answer."""

import pytest

from chatorch.services.channels import split


@pytest.mark.parametrize("limit", [10, 64, 4096])
def test_parts_fit_and_join_to_the_text(limit: int) -> None:
    text = " ".join(f"word{n}" for n in range(3000))
    parts = split(text, limit)
    assert "".join(parts) == text
    assert all(len(part) <= limit for part in parts)
    assert all(part.endswith(" ") for part in parts[:-1])


def test_a_line_break_is_preferred_to_a_space() -> None:
    text = "a" * 30 + "\n" + "b c " * 10
    assert split(text, 40)[0] == "a" * 30 + "\n"


def test_a_word_longer_than_the_limit_is_cut_at_the_limit() -> None:
    text = "x" * 25
    assert split(text, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_short_and_empty_texts_are_one_part() -> None:
    assert split("hello", 10) == ["hello"]
    assert split("", 10) == [""]
