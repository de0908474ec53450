from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from chatorch.adapters.channels.tables import plain, table_lines


def _table(markdown: str) -> SyntaxTreeNode:
    tree = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(markdown))
    (table,) = [node for node in tree.walk() if node.type == "table"]
    return table


def test_columns_are_aligned_as_the_table_says_and_the_header_underlined() -> None:
    table = _table(
        "| item | qty | note |\n|:--|--:|:-:|\n| **tea** | 2 | hot |\n| cake | 10 | x |\n"
    )
    assert table_lines(table) == [
        "item | qty | note",
        "-----+-----+-----",
        "tea  |   2 | hot",
        "cake |  10 |  x",
    ]


def test_plain_text_drops_the_markup_and_joins_lines() -> None:
    tree = SyntaxTreeNode(MarkdownIt("commonmark").parse("**bold** and `code`\nnext"))
    (inline,) = [node for node in tree.walk() if node.type == "inline"]
    assert plain(inline.children) == "bold and code next"
