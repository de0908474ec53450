"""Telegram's markup: an answer's Markdown shown as the HTML Telegram renders, always
parseable, and sent as plain text when Telegram refuses it anyway."""

from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.channels.telegram import TelegramChannel
from chatorch.adapters.channels.telegram.markup import to_html
from tests.conftest import remember
from tests.fixtures.fake_telegram import FakeTelegram, fake_telegram, visible


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("plain words ", "plain words "),
        ("a **bold** and *soft* move", "a <b>bold</b> and <i>soft</i> move"),
        ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
        ("use `x<y`", "use <code>x&lt;y</code>"),
        ("# Title\n\ntext", "<b>Title</b>\n\ntext"),
        ("- one\n- two", "• one\n• two"),
        ("3. c\n4. d", "3. c\n4. d"),
        ("```py\nif a<b: pass\n```", '<pre><code class="language-py">if a&lt;b: pass</code></pre>'),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("[site](https://x.test/?a=1&b=2)", '<a href="https://x.test/?a=1&amp;b=2">site</a>'),
        ("> said", "<blockquote>said</blockquote>"),
    ],
)
def test_markdown_becomes_telegrams_html(markdown: str, html: str) -> None:
    assert to_html(markdown) == html


@pytest.mark.parametrize(
    "partial",  # what a growing answer looks like between two edits
    ["**unclosed bold", "```python\nprint(", "[half a link](https://x", "- item\n  - sub *em"],
)
def test_a_half_written_answer_still_parses(partial: str) -> None:
    shown = visible(to_html(partial))  # raises as Telegram would refuse
    assert len(shown) <= len(partial)


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram() as server:
        yield server


async def test_the_answer_is_sent_as_html(api: FakeTelegram) -> None:
    channel = TelegramChannel(token=remember("77:markup-token"), secret_token="s", api_url=api.url)
    await channel.send({"chat_id": 42}, "**Done**: 2 < 3")
    (call,) = api.called("sendMessage")
    assert call["parse_mode"] == "HTML"
    assert call["html"] == "<b>Done</b>: 2 &lt; 3"
    assert call["text"] == "Done: 2 < 3"
    await channel.close()


async def test_markup_telegram_refuses_is_sent_again_as_plain_text(api: FakeTelegram) -> None:
    channel = TelegramChannel(token=remember("78:markup-token"), secret_token="s", api_url=api.url)
    api.refuse(
        "sendMessage", status=400, retry_after=None, text="Bad Request: can't parse entities"
    )
    await channel.send({"chat_id": 42}, "**Done**")
    first, second = api.called("sendMessage")
    assert first["parse_mode"] == "HTML"
    assert "parse_mode" not in second
    assert second["text"] == "**Done**"
    await channel.close()
