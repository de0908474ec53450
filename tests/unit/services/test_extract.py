"""Extraction: which uploads chatorch reads, and the text it reads from each kind."""

import pytest

from chatorch.domain.errors import UnsupportedFileType
from chatorch.services.chunking import Section
from chatorch.services.extract import Unreadable, clean_name, decode, extract, media_type_of
from tests.fixtures.pdf import pdf


class TestMediaTypes:
    @pytest.mark.parametrize(
        ("name", "declared", "read_as"),
        [
            ("notes.txt", "text/plain", "text/plain"),
            ("notes.md", "text/plain", "text/markdown"),  # the extension is more precise
            ("notes.md", None, "text/markdown"),
            ("README.markdown", "application/octet-stream", "text/markdown"),
            ("page.htm", "", "text/html"),
            ("page", "text/html; charset=utf-8", "text/html"),
            ("page.xhtml", "application/xhtml+xml", "text/html"),
            ("report.PDF", "application/octet-stream", "application/pdf"),
            ("report", "application/pdf", "application/pdf"),
            ("notes", "text/plain", "text/plain"),
            ("data.csv", "TEXT/PLAIN", "text/plain"),
            ("x.md", "text/x-markdown", "text/markdown"),
            ("README", None, "text/plain"),  # no extension: the bytes must be text
            ("LICENSE", "application/octet-stream", "text/plain"),
        ],
    )
    def test_the_declared_type_and_the_name_decide(
        self, name: str, declared: str | None, read_as: str
    ) -> None:
        assert media_type_of(name, declared) == read_as

    @pytest.mark.parametrize(
        ("name", "declared"),
        [
            ("photo.png", "image/png"),
            ("photo.txt", "image/png"),  # a type stated is not overridden by a name
            ("sheet.xlsx", "application/octet-stream"),
            ("archive.tar.gz", None),
            ("data.json", "application/json"),
        ],
    )
    def test_other_types_are_refused_listing_those_accepted(
        self, name: str, declared: str | None
    ) -> None:
        with pytest.raises(UnsupportedFileType) as refused:
            media_type_of(name, declared)
        assert refused.value.status == 415
        for accepted in ("text/plain", "text/markdown", "text/html", "application/pdf"):
            assert accepted in refused.value.detail


class TestNames:
    @pytest.mark.parametrize(
        ("given", "kept"),
        [
            ("report.pdf", "report.pdf"),
            ("C:\\Users\\ada\\report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("bad\x00na\x1bme.txt", "badname.txt"),
            ("", "file"),
            (None, "file"),
            ("   ", "file"),
            ("é" * 300 + ".md", "é" * 252 + ".md"),
        ],
    )
    def test_a_name_is_its_last_part_without_control_characters(
        self, given: str | None, kept: str
    ) -> None:
        assert clean_name(given) == kept


class TestText:
    @pytest.mark.parametrize(
        ("data", "text"),
        [
            ("naïve café\r\nline".encode(), "naïve café\nline"),
            (b"\xef\xbb\xbfwith a BOM", "with a BOM"),
            ("utf-16 text".encode("utf-16"), "utf-16 text"),
            ("Windows-1252: café €5".encode("cp1252"), "Windows-1252: café €5"),
        ],
    )
    def test_text_is_read_in_the_encodings_text_files_come_in(self, data: bytes, text: str) -> None:
        assert decode(data) == text

    @pytest.mark.parametrize(
        "data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(256)) * 4]
    )
    def test_binary_bytes_are_not_text(self, data: bytes) -> None:
        with pytest.raises(Unreadable, match="not text"):
            extract(data, "text/plain")

    def test_plain_text_is_one_section(self) -> None:
        assert extract(b"one\n\ntwo", "text/plain") == [Section("one\n\ntwo")]

    def test_a_file_of_blanks_holds_no_text(self) -> None:
        with pytest.raises(Unreadable, match="no text"):
            extract(b" \n\t\n", "text/plain")


class TestMarkdown:
    def test_sections_follow_the_headings_and_their_nesting(self) -> None:
        source = (
            "Before any heading.\n\n"
            "# Guide\n\nIntro.\n\n"
            "```\n# a comment, not a heading\n```\n\n"
            "## Setup\n\nInstall it.\n\n"
            "Details\n-------\n\nSetext too.\n\n"
            "# Reference\nAll of it."
        )
        sections = extract(source.encode(), "text/markdown")
        assert [s.heading for s in sections] == [
            None,
            "Guide",
            "Guide > Setup",
            "Guide > Details",
            "Reference",
        ]
        assert sections[1].text.startswith("# Guide\n\nIntro.")
        assert "# a comment, not a heading" in sections[1].text
        assert sections[4].text == "# Reference\nAll of it."


class TestPdf:
    def test_each_page_is_a_section_with_its_number(self) -> None:
        data = pdf("The first page.", "", "Page three: code ZX-4471 (final).")
        sections = extract(data, "application/pdf")
        assert [(s.page, s.text) for s in sections] == [
            (1, "The first page."),
            (3, "Page three: code ZX-4471 (final)."),
        ]

    @pytest.mark.parametrize(
        "data",
        [b"%PDF-1.4\nthis is no PDF", pdf("cut short")[:150], b"not even the header"],
        ids=["garbage", "truncated", "no-header"],
    )
    def test_a_damaged_pdf_is_unreadable_saying_so(self, data: bytes) -> None:
        with pytest.raises(Unreadable, match="the PDF could not be read"):
            extract(data, "application/pdf")

    def test_a_pdf_without_text_is_unreadable_saying_why(self) -> None:
        with pytest.raises(Unreadable, match="2 page\\(s\\) hold no text"):
            extract(pdf("", " "), "application/pdf")
