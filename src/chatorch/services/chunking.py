"""A file's text in passages a prompt can hold: by its structure, with overlap.

Extraction (``services.extract``) hands over ``Section``s: a PDF's pages, the parts of a
Markdown or HTML document under each heading, or a plain text whole. Each section is
cut at paragraphs (blank lines) into chunks of at most ``MAX_CHARS``; a paragraph too
long for one is cut after a sentence, else between words. Every chunk after the first
of a section starts with the last ``OVERLAP_CHARS`` or so of the one before, so a
sentence cut in two is whole in one of them. A chunk never spans two sections, so it
names one page and one heading. The same sections always give the same chunks.
"""

import re
from collections import deque
from dataclasses import dataclass
from uuid import UUID

from chatorch.domain.entities import FileChunk

MAX_CHARS = 1_200  # a chunk's length at most, its overlap included
OVERLAP_CHARS = 150  # about this much of a chunk's end starts the next (cut between words)
FILL_CHARS = 600  # a chunk shorter than this takes part of a paragraph too long to join it
BODY_CHARS = MAX_CHARS - OVERLAP_CHARS - 2  # what a chunk holds besides overlap and glue
MAX_HEADING = 500  # characters kept of a heading path (the column's width)

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…;:](?=\s)")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Section:
    """A part of a file's text that chunks never cross: a page, or the text under a
    heading. ``heading`` is the path of headings above it (``Guide > Setup``)."""

    text: str
    heading: str | None = None
    page: int | None = None


def heading_path(names: list[str]) -> str | None:
    """Nested headings as one line, outermost first; None when there are none."""
    path = " > ".join(name for name in names if name)
    return path[:MAX_HEADING] or None


def chunk(file_id: UUID, sections: list[Section]) -> list[FileChunk]:
    """The sections' chunks, numbered from 0 in reading order."""
    chunks: list[FileChunk] = []
    for section in sections:
        for text in _section_chunks(section.text):
            chunks.append(
                FileChunk(
                    file_id=file_id,
                    number=len(chunks),
                    text=text,
                    page=section.page,
                    heading=section.heading,
                )
            )
    return chunks


@dataclass(frozen=True, slots=True)
class _Piece:
    glue: str  # what joins it to the piece before: a paragraph break, or a space
    text: str


def _section_chunks(text: str) -> list[str]:
    pieces = deque(_pieces(text))
    bodies: list[list[_Piece]] = []
    body: list[_Piece] = []
    size = 0
    while pieces:
        piece = pieces.popleft()
        added = len(piece.text) + (len(piece.glue) if body else 0)
        if size + added <= BODY_CHARS:
            body.append(piece)
            size += added
            continue
        room = BODY_CHARS - size - len(piece.glue)
        cut = _cut(piece.text, room, floor=0) if size < FILL_CHARS else None
        if cut is not None:  # fill a short chunk with the start of the piece
            body.append(_Piece(piece.glue, piece.text[:cut].rstrip()))
            pieces.appendleft(_Piece(" ", piece.text[cut:].lstrip()))
        else:
            pieces.appendleft(piece)
        bodies.append(body)
        body, size = [], 0
    if body:
        bodies.append(body)
    return _with_overlap(bodies)


def _with_overlap(bodies: list[list[_Piece]]) -> list[str]:
    texts: list[str] = []
    previous = ""
    for body in bodies:
        text = body[0].text + "".join(p.glue + p.text for p in body[1:])
        texts.append(f"{_tail(previous)}{body[0].glue}{text}" if previous else text)
        previous = text
    return texts


def _tail(text: str) -> str:
    """About the last ``OVERLAP_CHARS`` of ``text``, starting at a sentence if one starts
    early enough in them, else at a word."""
    if len(text) <= OVERLAP_CHARS:
        return text
    start = len(text) - OVERLAP_CHARS
    end = _SENTENCE_END.search(text, start, start + OVERLAP_CHARS // 2)
    if end is not None:
        return text[end.end() :].lstrip()
    space = _SPACE.search(text, start)
    if space is None or space.end() >= len(text):
        return text[start:]
    return text[space.end() :].lstrip()


def _pieces(text: str) -> list[_Piece]:
    """Paragraphs, those too long for one chunk cut in pieces that fit."""
    pieces: list[_Piece] = []
    for paragraph in _PARAGRAPH.split(text.strip()):
        paragraph = paragraph.strip()
        glue, start = "\n\n", 0  # an offset, not slices: a long paragraph is copied once
        while len(paragraph) - start > BODY_CHARS:
            window = paragraph[start : start + BODY_CHARS + 1]
            cut = _cut(window, BODY_CHARS, floor=BODY_CHARS // 2) or BODY_CHARS
            pieces.append(_Piece(glue, window[:cut].rstrip()))
            start += cut + len(window[cut:]) - len(window[cut:].lstrip())
            glue = " "
        if start < len(paragraph):
            pieces.append(_Piece(glue, paragraph[start:]))
    return pieces


def _cut(text: str, limit: int, *, floor: int) -> int | None:
    """Where to cut ``text`` to keep at most ``limit`` characters before the cut: after
    the last sentence end, else at the last space, past ``floor``; None if neither."""
    if limit <= floor or limit < 1:
        return None
    window = text[: limit + 1]  # a cut at ``limit`` may fall on the space after it
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if floor < m.end() <= limit]
    if ends:
        return ends[-1]
    spaces = [m.start() for m in _SPACE.finditer(window) if floor < m.start() <= limit]
    return spaces[-1] if spaces else None
