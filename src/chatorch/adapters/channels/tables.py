"""What the Slack and Discord renderings share: a Markdown table as aligned columns of
plain text (neither platform draws tables; a code block keeps the columns)."""

from collections.abc import Sequence

from markdown_it.tree import SyntaxTreeNode


def plain(nodes: Sequence[SyntaxTreeNode]) -> str:
    """The text inline nodes show, without any markup."""
    parts: list[str] = []
    for node in nodes:
        if node.children:
            parts.append(plain(node.children))
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(node.content)
    return "".join(parts)


def table_lines(table: SyntaxTreeNode) -> list[str]:
    """A Markdown table as lines of aligned columns, its header underlined."""
    rows = [
        [(plain(cell.children[0].children), str(cell.attrs.get("style", ""))) for cell in row]
        for section in table.children  # thead, tbody
        for row in (tr.children for tr in section.children)
    ]
    columns = max(len(row) for row in rows)
    widths = [max(len(row[i][0]) for row in rows if i < len(row)) for i in range(columns)]
    lines = []
    for number, row in enumerate(rows):
        cells = [_aligned(text, widths[i], style) for i, (text, style) in enumerate(row)]
        lines.append(" | ".join(cells).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return lines


def _aligned(text: str, width: int, style: str) -> str:
    if style.endswith("right"):
        return text.rjust(width)
    if style.endswith("center"):
        return text.center(width)
    return text.ljust(width)
