"""An answer's Markdown as the HTML subset Telegram renders (``parse_mode=HTML``).

Telegram shows ``<b> <i> <s> <code> <pre> <a href> <blockquote>`` and refuses any other
tag; every ``< > &`` of the text must be escaped. Models write CommonMark: markdown-it
parses it, and this renders each token as the nearest thing Telegram has — headings
bold, list items with bullets or numbers, raw HTML as text. What it makes always parses;
the channel sends plain text when Telegram refuses it anyway.
"""

from html import escape

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark")
_INLINE = {
    "strong_open": "<b>",
    "strong_close": "</b>",
    "em_open": "<i>",
    "em_close": "</i>",
    "s_open": "<s>",
    "s_close": "</s>",
    "link_close": "</a>",
}


def to_html(markdown: str) -> str:
    """Telegram HTML for ``markdown``; its visible text is no longer than the source, and
    keeps the source's leading and trailing white space (a part of a split answer ends
    where the next begins)."""
    body = markdown.strip()
    if not body:
        return markdown
    lead = markdown[: len(markdown) - len(markdown.lstrip())]
    trail = markdown[len(markdown.rstrip()) :]
    return lead + _render(body) + trail


def _render(markdown: str) -> str:
    out: list[str] = []
    numbers: list[int] = []  # the next item number of each open list; 0: a bullet list
    for token in _PARSER.parse(markdown):
        kind = token.type
        if kind == "inline":
            out.append(_inline(token.children or []))
        elif kind == "heading_open":
            out.append("<b>")
        elif kind == "heading_close":
            out.append("</b>\n\n")
        elif kind == "paragraph_close":
            out.append("\n" if numbers else "\n\n")
        elif kind in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            code = escape(token.content.rstrip("\n"), quote=False)
            if language:
                code = f'<code class="language-{escape(language)}">{code}</code>'
            out.append(f"<pre>{code}</pre>\n\n")
        elif kind == "bullet_list_open":
            numbers.append(0)
        elif kind == "ordered_list_open":
            numbers.append(int(token.attrGet("start") or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            numbers.pop()
            out.append("" if numbers else "\n")
        elif kind == "list_item_open":
            out.append("  " * (len(numbers) - 1) + _marker(numbers))
        elif kind == "blockquote_open":
            out.append("<blockquote>")
        elif kind == "blockquote_close":
            out[-1] = out[-1].rstrip("\n")  # the quote's own paragraph break stays outside
            out.append("</blockquote>\n\n")
        elif kind == "hr":
            out.append("———\n\n")
        elif kind == "html_block":
            out.append(escape(token.content, quote=False))
    return "".join(out).strip()


def _marker(numbers: list[int]) -> str:
    if numbers[-1] == 0:
        return "• "
    number = numbers[-1]
    numbers[-1] += 1
    return f"{number}. "


def _inline(children: list[Token]) -> str:
    parts: list[str] = []
    for child in children:
        kind = child.type
        if kind in _INLINE:
            parts.append(_INLINE[kind])
        elif kind == "link_open":
            parts.append(f'<a href="{escape(str(child.attrGet("href") or ""))}">')
        elif kind == "code_inline":
            parts.append(f"<code>{escape(child.content, quote=False)}</code>")
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            parts.append(escape(child.content or str(child.attrGet("src") or ""), quote=False))
        else:  # text, html_inline: shown as written
            parts.append(escape(child.content, quote=False))
    return "".join(parts)
