"""The file name an export is saved under: the chat's title and day, and nothing more."""

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from chatorch.api.export import attachment
from chatorch.domain.entities import Chat
from chatorch.domain.ids import new_id

DAY = datetime(2026, 5, 1, 23, 59, tzinfo=UTC)


def _names(title: str, extension: str = "md") -> tuple[str, str]:
    header = attachment(Chat(owner_id=new_id(), title=title, created_at=DAY), extension)
    assert header.startswith("attachment; ")
    plain = header.split('filename="')[1].split('"')[0]
    return plain, unquote(header.split("filename*=UTF-8''")[1])


class TestAttachment:
    def test_a_plain_title(self) -> None:
        assert _names("Trip to Lisbon") == (
            "trip-to-lisbon-2026-05-01.md",
            "Trip to Lisbon 2026-05-01.md",
        )

    def test_an_untitled_chat_is_a_chat(self) -> None:
        assert _names("", "json") == ("chat-2026-05-01.json", "chat 2026-05-01.json")

    @pytest.mark.parametrize(
        "title", ["../../etc/passwd", 'a"b\r\nSet-Cookie: x=1', "C:\\con\\aux", "\x00\x7f..."]
    )
    def test_no_title_reaches_a_folder_a_quote_or_a_header(self, title: str) -> None:
        plain, written = _names(title)
        for name in (plain, written):
            assert not set(name) & set('/\\"\r\n:*?<>|\x00\x7f')
            assert not name.startswith(".")
        assert plain.isascii()

    def test_a_long_title_is_cut(self) -> None:
        plain, written = _names("word " * 100)
        assert len(plain) < 80
        assert len(written) < 80
