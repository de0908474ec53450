"""An answer's Markdown as Slack's mrkdwn (``chat.postMessage`` with ``mrkdwn: true``).

Slack's mrkdwn is not Markdown: ``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``,
```` ``` ```` blocks, ``> `` quotes and ``<url|text>`` links; no headings, lists or tables.
Its markers format only at word boundaries (``foo*bar*`` stays as written) and it has no
escape for them. ``& < >`` are its control characters: every one in the text goes as
``&amp; &lt; &gt;``, so an answer never pings ``<!channel>`` or ``<@U…>``, and only
``http``, ``https`` and ``mailto`` targets become links (``<@U…|x>`` would be a mention).

Models write CommonMark: markdown-it parses it, and each node is rendered as the nearest
thing Slack shows — headings bold on their own line, lists with ``•`` or numbers, tables
as aligned text in a code block, raw HTML as text. Whatever it makes, Slack shows; the
channel sends the plain text when the rendering is too long or Slack refuses it anyway.
"""

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from chatorch.adapters.channels.tables import plain, table_lines

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_LINKABLE = re.compile(r"(?i)(?:https?|mailto):")
_MARKS = {"strong": "*", "em": "_", "s": "~"}
INDENT = "    "  # what a list item's later lines, and the lists inside it, are indented by
RULE = "———"


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for ``markdown``, keeping its leading and trailing white space (a part
    of a split answer ends where the next begins)."""
    body = markdown.strip()
    if not body:
        return markdown
    lead = markdown[: len(markdown) - len(markdown.lstrip())]
    trail = markdown[len(markdown.rstrip()) :]
    return lead + _blocks(SyntaxTreeNode(_PARSER.parse(body)).children) + trail


def escape(text: str) -> str:
    """Text as Slack takes it: its three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _blocks(nodes: Sequence[SyntaxTreeNode], *, tight: bool = False) -> str:
    rendered = (_block(node) for node in nodes)
    return ("\n" if tight else "\n\n").join(part for part in rendered if part)


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "paragraph":
        return _inline(node.children[0].children)
    if kind == "heading":
        return f"*{_inline(node.children[0].children, bold=True)}*"
    if kind in ("fence", "code_block"):
        return _code(node.content)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "blockquote":
        quoted = _blocks(node.children, tight=True).split("\n")
        return "\n".join(line if line.startswith("> ") else f"> {line}" for line in quoted)
    if kind == "table":
        return _code("\n".join(table_lines(node)))
    if kind == "hr":
        return RULE
    return escape(node.content.rstrip("\n"))  # html_block: shown as written


def _code(content: str) -> str:
    """A code block: Slack's has no language, and its text is escaped like any other."""
    code = escape(content.rstrip("\n"))
    return f"```\n{code}\n```"


def _list(node: SyntaxTreeNode) -> str:
    """Items with ``•`` or their number, their later lines (nested lists too) indented;
    a loose list (paragraphs apart in the source) keeps a blank line between items."""
    tight = all(
        child.hidden
        for item in node.children
        for child in item.children
        if child.type == "paragraph"
    )
    number = int(str(node.attrs.get("start", 1)))
    items = []
    for item in node.children:
        marker = "• " if node.type == "bullet_list" else f"{number}. "
        number += 1
        first, *rest = _blocks(item.children, tight=tight).split("\n")
        later = [f"{INDENT}{line}" if line else line for line in rest]
        items.append("\n".join([(marker + first).rstrip(), *later]))
    return ("\n" if tight else "\n\n").join(items)


def _inline(nodes: Sequence[SyntaxTreeNode], *, bold: bool = False, em: bool = False) -> str:
    parts: list[str] = []
    for index, node in enumerate(nodes):
        kind = node.type
        if kind in _MARKS:
            inside_bold, inside_em = bold or kind == "strong", em or kind == "em"
            inner = _inline(node.children, bold=inside_bold, em=inside_em)
            if (kind == "strong" and bold) or (kind == "em" and em):
                parts.append(inner)  # already bold (a heading) or in italics
            elif _intraword(parts, nodes[index + 1 : index + 2]):
                parts.append(f"{node.markup}{inner}{node.markup}")  # Slack would not format it
            else:
                parts.append(f"{_MARKS[kind]}{inner}{_MARKS[kind]}")
        elif kind == "link":
            text = _inline(node.children, bold=bold, em=em)
            parts.append(_link(str(node.attrs.get("href", "")), text))
        elif kind == "image":
            parts.append(_link(str(node.attrs.get("src", "")), escape(plain(node.children))))
        elif kind == "code_inline":
            code = escape(node.content)
            parts.append(f"`{code}`" if "`" not in code else code)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        else:  # text, html_inline: shown as written
            parts.append(escape(node.content))
    return "".join(parts)


def _intraword(before: list[str], after: Sequence[SyntaxTreeNode]) -> bool:
    """Whether a marker here would touch a letter or digit, where Slack ignores it."""
    previous = before[-1][-1:] if before and before[-1] else ""
    following = after[0].content[:1] if after and after[0].type == "text" else ""
    return previous.isalnum() or following.isalnum()


def _link(target: str, text: str) -> str:
    """``<url|text>`` for a web or mail address; anything else (``@U…``, ``#C…``,
    ``!channel``, a relative path) as text, never as Slack's special syntax."""
    if not _LINKABLE.match(target):
        return f"{text} ({escape(target)})" if target and text else text or escape(target)
    url = escape(target).replace("|", "%7C")
    return f"<{url}>" if not text or text == escape(target) else f"<{url}|{text}>"
