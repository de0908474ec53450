"""An answer's Markdown as Discord shows it: the answer as written, but for what Discord
does not render.

Discord renders most of what models write (bold, italics, strikes, code, fenced blocks,
``#``–``###`` headings, lists, ``> `` quotes, ``[text](url)`` links) and shows the rest as
its raw characters: tables, ``####`` and deeper headings, underlined (setext) headings,
rules, ``~~~`` fences, indented code and images. Those blocks at the top level of the
answer, and images anywhere, are rewritten from markdown-it's parse — a table as aligned
columns in a code block, a deep heading as ``###``, an image as a link — and every other
line is sent as it was written. ``__text__`` (Discord underlines it) and raw HTML (shown
as text) stay.
"""

import re

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from chatorch.adapters.channels.tables import table_lines

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_IMAGE = re.compile(r"!\[(?=[^\]\n]*\]\()")  # where an image starts: ![alt](
RULE = "———"


def to_discord(markdown: str) -> str:
    """``markdown`` with what Discord shows raw rewritten as what it renders."""
    tree = SyntaxTreeNode(_PARSER.parse(markdown))
    lines = markdown.splitlines(keepends=True)
    for node in tree.walk():  # images, wherever they are: only their "!" goes
        if node.type == "inline" and node.map is not None:
            start, end = node.map
            source = "".join(lines[start:end])
            if _linkable(node, source):
                lines[start:end] = _IMAGE.sub("[", source).splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for node in tree.children:  # the blocks, at the top level only: their lines are theirs
        new = _block(node)
        if new is None or node.map is None:
            continue
        start, end = node.map
        out.extend(lines[at:start])
        out.append(new + ("\n" if lines[end - 1].endswith("\n") else ""))
        at = end
    out.extend(lines[at:])
    return "".join(out)


def _block(node: SyntaxTreeNode) -> str | None:
    """What Discord renders for a top-level block it shows raw; None for one it renders."""
    kind = node.type
    if kind == "table":
        return _fenced("\n".join(table_lines(node)))
    if kind == "heading" and (len(node.markup) > 3 or node.markup in ("=", "-")):
        inline = node.children[0]  # #### and deeper as ###; underlined ones as # and ##
        text = _IMAGE.sub("[", inline.content) if _linkable(inline) else inline.content
        return f"{'#' * min(int(node.tag[1]), 3)} {' '.join(text.split())}"
    if kind == "hr":
        return RULE
    if kind == "code_block" or (kind == "fence" and node.markup.startswith("~")):
        if "```" in node.content:
            return None  # a fence of backticks would end inside it: left as written
        return _fenced(node.content.rstrip("\n"), node.info.strip() if kind == "fence" else "")
    return None


def _fenced(code: str, language: str = "") -> str:
    return f"```{language}\n{code}\n```"


def _linkable(inline: SyntaxTreeNode, source: str | None = None) -> bool:
    """Whether each ``![…](`` of the inline's source (or ``source``, its lines) starts one
    of its images, none of them inside a link: then dropping the "!" makes them links."""
    images = [node for node in inline.walk() if node.type == "image"]
    if not images or any(_in_link(image) for image in images):
        return False
    return len(_IMAGE.findall(inline.content if source is None else source)) == len(images)


def _in_link(node: SyntaxTreeNode) -> bool:
    parent = node.parent
    while parent is not None and parent.type != "inline":
        if parent.type == "link":
            return True
        parent = parent.parent
    return False
