"""The readable text of an HTML page, in sections under its headings.

The standard library's ``html.parser``: no HTML parser is among chatorch's dependencies,
and reading text needs no DOM. It is lenient, as browsers are: unclosed tags and stray
end tags are taken as they come, character references are decoded. What a reader does
not see is left out: scripts, styles, templates, ``<noscript>``, inline SVG and MathML,
and navigation menus. The page's ``<title>`` heads the text before its first heading.
"""

import re
from html.parser import HTMLParser

from chatorch.services.chunking import Section, heading_path

# Whose content is not text a reader sees.
_HIDDEN = frozenset({"script", "style", "template", "noscript", "svg", "math", "nav"})
# Tags that end a paragraph: their text never runs into their neighbours'.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr",
        "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACE = re.compile(r"\s+")


def html_sections(text: str) -> list[Section]:
    """The page's text, a section per heading (the text before the first one under the
    page's title); paragraphs are separated by blank lines."""
    parser = _Reader()
    parser.feed(text)
    parser.close()
    return parser.finish()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._hidden: list[str] = []  # open tags whose content is not shown
        self._pre = 0  # depth of <pre>: whitespace kept as it is
        self._words: list[str] = []  # the paragraph being read
        self._paragraphs: list[str] = []  # the section being read
        self._sections: list[Section] = []
        self._title: list[str] | None = None  # the <title>'s text, while in it
        self._page_title = ""
        self._heading: list[str] | None = None  # a heading's text, while in it
        self._level = 0
        self._path: list[tuple[int, str]] = []  # the headings the text is under

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not (self._hidden or self._page_title or self._title is not None):
            self._title = []
        elif tag in _HIDDEN:
            self._hidden.append(tag)
        elif self._hidden:
            return
        elif tag in _HEADINGS:
            self._end_heading()
            self._end_section()
            self._heading, self._level = [], _HEADINGS[tag]
        elif tag in _BLOCKS:
            self._end_heading()  # a heading left open ends where a block starts
            self._end_paragraph()
            self._pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self._page_title = _SPACE.sub(" ", "".join(self._title)).strip()
            self._title = None
        elif self._hidden:
            if tag in self._hidden:  # close it, and whatever was left open inside it
                del self._hidden[len(self._hidden) - 1 - self._hidden[::-1].index(tag) :]
        elif tag in _HEADINGS:
            self._end_heading()
        elif tag in _BLOCKS:
            self._end_paragraph()
            self._pre = max(0, self._pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        elif self._hidden:
            return
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self._words.append(data)

    def finish(self) -> list[Section]:
        self._end_heading()
        self._end_section()
        return self._sections

    def _end_heading(self) -> None:
        if self._heading is None:
            return
        title = _SPACE.sub(" ", "".join(self._heading)).strip()
        self._heading = None
        if title:
            self._path = [(level, name) for level, name in self._path if level < self._level]
            self._path.append((self._level, title))
            self._paragraphs.append(title)

    def _end_paragraph(self) -> None:
        text = "".join(self._words)
        self._words = []
        text = text.strip("\n") if self._pre else _SPACE.sub(" ", text).strip()
        if text.strip():
            self._paragraphs.append(text)

    def _end_section(self) -> None:
        self._end_paragraph()
        if self._paragraphs:
            names = [name for _, name in self._path] or [self._page_title]
            self._sections.append(
                Section("\n\n".join(self._paragraphs), heading=heading_path(names))
            )
        self._paragraphs = []
