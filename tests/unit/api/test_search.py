"""Search cursors: a place in the ranking, in the shape the schema holds them to."""

import re

import pytest

from chatorch.api.search import CURSOR, _cursor, _offset


class TestCursors:
    @pytest.mark.parametrize("offset", [0, 20, 999_999_999])
    def test_a_cursor_leads_back_to_its_offset(self, offset: int) -> None:
        cursor = _cursor(offset)
        assert re.fullmatch(CURSOR, cursor)
        assert _offset(cursor) == offset

    @pytest.mark.parametrize("cursor", ["", "20", "o", "o-1", "o1.5", "o١", "o1234567890", "o1\n"])
    def test_the_schema_refuses_any_other_text(self, cursor: str) -> None:
        assert not re.fullmatch(CURSOR, cursor)
