"""Chunking: a file's sections in passages of a prompt's size, by structure, overlapping."""

import itertools
import re

from chatorch.domain.ids import new_id
from chatorch.services.chunking import MAX_CHARS, OVERLAP_CHARS, Section, chunk

FILE = new_id()


def _paragraphs(count: int, words: int = 50) -> str:
    return "\n\n".join(" ".join(f"p{p}w{w}" for w in range(words)) + "." for p in range(count))


def _sentences(count: int) -> str:
    return " ".join(f"Sentence {n} says something about item {n} here." for n in range(count))


class TestSizes:
    def test_chunks_hold_about_a_thousand_characters_and_never_more_than_the_limit(
        self,
    ) -> None:
        chunks = chunk(FILE, [Section(_paragraphs(60))])
        assert len(chunks) > 10
        assert all(len(c.text) <= MAX_CHARS for c in chunks)
        assert all(len(c.text) >= 800 for c in chunks[:-1])

    def test_a_paragraph_longer_than_a_chunk_is_cut_after_sentences(self) -> None:
        chunks = chunk(FILE, [Section(_sentences(200))])
        assert len(chunks) > 5
        assert all(len(c.text) <= MAX_CHARS for c in chunks)
        assert all(c.text.endswith("here.") for c in chunks[:-1])
        assert all(c.text.startswith("Sentence ") for c in chunks)  # overlap too

    def test_text_without_spaces_is_cut_at_the_limit(self) -> None:
        chunks = chunk(FILE, [Section("x" * 5_000)])
        assert all(len(c.text) <= MAX_CHARS for c in chunks)
        assert "".join(c.text for c in chunks).count("x") >= 5_000

    def test_a_short_text_is_one_chunk_as_it_is(self) -> None:
        [only] = chunk(FILE, [Section("  Just one line.\n")])
        assert only.text == "Just one line."

    def test_blank_sections_give_no_chunks(self) -> None:
        assert chunk(FILE, [Section(""), Section(" \n\n \t")]) == []


class TestOverlap:
    def test_each_chunk_starts_with_the_end_of_the_one_before(self) -> None:
        chunks = chunk(FILE, [Section(_paragraphs(30))])
        for before, after in itertools.pairwise(chunks):
            start = after.text[: OVERLAP_CHARS // 2]
            assert start in before.text[-OVERLAP_CHARS - 10 :], (before.text, after.text)

    def test_no_word_is_lost(self) -> None:
        text = _paragraphs(40) + "\n\n" + _sentences(100)
        joined = " ".join(c.text for c in chunk(FILE, [Section(text)]))
        assert set(re.findall(r"\S+", text)) <= set(re.findall(r"\S+", joined))

    def test_overlap_never_crosses_a_section(self) -> None:
        chunks = chunk(FILE, [Section("first section."), Section("second section.")])
        assert [c.text for c in chunks] == ["first section.", "second section."]


class TestStructure:
    def test_chunks_keep_their_page_and_heading_and_are_numbered_in_order(self) -> None:
        sections = [
            Section(_paragraphs(8), page=1),
            Section("A short second page.", page=2),
            Section(_paragraphs(3), heading="Guide > Setup"),
        ]
        chunks = chunk(FILE, sections)
        assert [c.number for c in chunks] == list(range(len(chunks)))
        assert {c.file_id for c in chunks} == {FILE}
        assert [c.page for c in chunks if c.page] == sorted(c.page for c in chunks if c.page)
        assert any(c.text == "A short second page." and c.page == 2 for c in chunks)
        assert chunks[-1].heading == "Guide > Setup"
        assert chunks[-1].page is None

    def test_the_same_text_always_gives_the_same_chunks(self) -> None:
        sections = [Section(_paragraphs(20) + _sentences(50), page=3)]
        assert chunk(FILE, sections) == chunk(FILE, sections)
