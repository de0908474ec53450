"""HTML's readable text: what a reader sees, in sections under its headings."""

from chatorch.services.chunking import Section
from chatorch.services.htmltext import html_sections


class TestWhatIsRead:
    def test_scripts_styles_and_menus_are_left_out_and_entities_decoded(self) -> None:
        page = (
            "<!doctype html><html><head><title>Ignored here</title>"
            "<style>p { color: red }</style><script>var secret = 1;</script></head>"
            "<body><nav><a href='/'>Home</a></nav>"
            "<p>Fish &amp; chips &lt;3 &#x263A;</p>"
            "<noscript>enable JS</noscript><template><p>later</p></template>"
            "<svg><title>icon</title><text>drawn</text></svg>"
            "</body></html>"
        )
        [section] = html_sections(page)
        assert section.text == "Fish & chips <3 ☺"

    def test_blocks_are_paragraphs_and_inline_tags_run_on(self) -> None:
        page = (
            "<div>One <b>bold</b>\n   word.</div><ul><li>first</li><li>second</li></ul>"
            "<table><tr><td>cell</td><td>other</td></tr></table>line<br>break"
        )
        [section] = html_sections(page)
        assert section.text == "One bold word.\n\nfirst\n\nsecond\n\ncell\n\nother\n\nline\n\nbreak"

    def test_preformatted_text_keeps_its_spaces(self) -> None:
        [section] = html_sections("<pre>\ndef f():\n    return 1\n</pre>")
        assert section.text == "def f():\n    return 1"


class TestSections:
    def test_headings_cut_sections_and_nest(self) -> None:
        page = (
            "<title>The Manual</title><p>Preface.</p>"
            "<h1>Guide</h1><p>Intro.</p><h2>Setup <small>v2</small></h2><p>Install.</p>"
            "<h2>Use</h2><p>Run.</p><h1>Reference</h1><p>All.</p>"
        )
        assert html_sections(page) == [
            Section("Preface.", heading="The Manual"),
            Section("Guide\n\nIntro.", heading="Guide"),
            Section("Setup v2\n\nInstall.", heading="Guide > Setup v2"),
            Section("Use\n\nRun.", heading="Guide > Use"),
            Section("Reference\n\nAll.", heading="Reference"),
        ]

    def test_broken_markup_is_read_as_browsers_would(self) -> None:
        page = "<p>open paragraph<p>another</div></span><h3>Late heading<p>text"
        sections = html_sections(page)
        assert [s.text for s in sections] == ["open paragraph\n\nanother", "Late heading\n\ntext"]
        assert sections[1].heading == "Late heading"

    def test_a_page_without_text_has_no_sections(self) -> None:
        assert html_sections("<html><script>x()</script><img src=a.png></html>") == []
