"""Which files chatorch reads, and their text: plain text, Markdown, HTML and PDF.

``media_type_of`` decides an upload's type from what the client declared and the file's
name, before a byte is read; a type outside ``ACCEPTED`` is refused (415).
``extract`` turns the bytes into ``Section``s for ``chunking``: the whole of a plain
text, the parts of Markdown and HTML under their headings, the pages of a PDF (pypdf).
A file that has no text to give raises ``Unreadable`` with the reason, which the file
keeps; it is CPU work, for a worker thread.
"""

import codecs
import io
import itertools
import re
from pathlib import PurePosixPath, PureWindowsPath

from markdown_it import MarkdownIt
from pypdf import PdfReader

from chatorch.domain.errors import UnsupportedFileType
from chatorch.services.chunking import Section, heading_path
from chatorch.services.htmltext import html_sections

TEXT, MARKDOWN, HTML, PDF = "text/plain", "text/markdown", "text/html", "application/pdf"
ACCEPTED = (TEXT, MARKDOWN, HTML, PDF)
EXTENSIONS = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
}
# Other names clients give the accepted types.
_ALIASES = {
    "text/x-markdown": MARKDOWN,
    "application/xhtml+xml": HTML,
    "application/x-pdf": PDF,
}
# What a client declares when it does not know: the file's name decides.
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Control characters no text holds (tab, line feed, form feed and carriage return can).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.01  # of the characters, past which bytes are not text


class Unreadable(Exception):
    """The file has no text chatorch can read; the message says why, for its owner."""


def media_type_of(name: str, declared: str | None) -> str:
    """The type an upload is read as.

    A declared type that is one of ``ACCEPTED`` (other than plain text) is taken; any
    other declared type is refused. A file declared as plain text or not at all
    (``application/octet-stream``) is read by its name's extension; a name without one
    (``README``, ``LICENSE``) is read as plain text, which its bytes must then be.

    Raises:
        UnsupportedFileType: neither says a type chatorch reads.
    """
    stated = (declared or "").split(";", 1)[0].strip().lower()
    stated = _ALIASES.get(stated, stated)
    extension = PurePosixPath(name).suffix.lower()
    if stated in ACCEPTED and stated != TEXT:
        return stated
    if stated not in _UNDECLARED and stated != TEXT:
        raise UnsupportedFileType(f"files of type {stated} cannot be read; {_accepted()}")
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    if stated == TEXT or not extension:
        return TEXT
    raise UnsupportedFileType(f"files named *{extension} cannot be read; {_accepted()}")


def _accepted() -> str:
    extensions = ", ".join(EXTENSIONS)
    return f"the accepted types are {', '.join(ACCEPTED)} (by extension: {extensions})"


def clean_name(name: str | None) -> str:
    """A file name to keep and show: its last path part (browsers on Windows send the
    whole path), without control characters, at most 255 characters with its extension."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = _CONTROL.sub("", base).strip() or "file"
    if len(base) <= 255:
        return base
    suffix = PurePosixPath(base).suffix[:32]
    return base[: 255 - len(suffix)] + suffix


def extract(data: bytes, media_type: str) -> list[Section]:
    """The text of ``data`` read as ``media_type`` (one of ``ACCEPTED``), in sections.

    Raises:
        Unreadable: it holds no text, or not in a form chatorch reads.
    """
    if media_type == PDF:
        sections = _pdf(data)
    elif media_type == HTML:
        sections = html_sections(decode(data))
    elif media_type == MARKDOWN:
        sections = markdown_sections(decode(data))
    else:
        sections = [Section(decode(data))]
    if not any(section.text.strip() for section in sections):
        raise Unreadable("the file holds no text")
    return sections


def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 (or UTF-16 with its byte order mark), else Windows-1252.

    Raises:
        Unreadable: the bytes are not text (a binary file under a text name).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Unreadable("the file is not text: it is neither UTF-8 nor Windows-1252")
    if "\x00" in text or len(_CONTROL.findall(text)) > MAX_CONTROL_SHARE * len(text):
        raise Unreadable("the file is not text: it holds binary data")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def markdown_sections(text: str) -> list[Section]:
    """A section per heading (ATX ``#`` or setext), each starting with its heading line;
    ``#`` inside code blocks is not a heading (markdown-it finds them)."""
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").parse(text)
    starts: list[tuple[int, int, str]] = []  # line, level, title
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open" and opening.map is not None and opening.level == 0:
            starts.append((opening.map[0], int(opening.tag[1:]), inline.content.strip()))
    sections: list[Section] = []
    if not starts or starts[0][0] > 0:
        sections.append(Section("\n".join(lines[: starts[0][0] if starts else len(lines)])))
    path: list[tuple[int, str]] = []
    for index, (line, level, title) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        path = [(depth, name) for depth, name in path if depth < level] + [(level, title)]
        body = "\n".join(lines[line:end])
        sections.append(Section(body, heading=heading_path([name for _, name in path])))
    return [section for section in sections if section.text.strip()]


def _pdf(data: bytes) -> list[Section]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("the PDF is protected by a password")
        pages = [page.extract_text() for page in reader.pages]
    except Unreadable:
        raise
    except Exception as error:  # pypdf raises many kinds on damaged input; all say so
        raise Unreadable(f"the PDF could not be read: {error or type(error).__name__}") from None
    sections = [
        Section(text.replace("\x00", ""), page=number)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise Unreadable(
            f"the PDF's {len(pages)} page(s) hold no text (scanned pages are images, and"
            " chatorch does not read text from images)"
        )
    return sections
