"""Slack's markup: an answer's Markdown shown as mrkdwn, never a mention or a broadcast,
and sent as plain text when the rendering is too long or Slack refuses it."""

import re
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatorch.adapters.channels.slack import SlackChannel
from chatorch.adapters.channels.slack.markup import to_mrkdwn
from chatorch.domain.channels import ChannelError
from tests.conftest import remember
from tests.fixtures.fake_slack import FakeSlack, fake_slack, visible

TOKEN = remember("xoxb-markup-0000-fakeSlackBotToken")
REPLY = {"channel": "D0DMCHANNEL"}
# What Slack reads as special between < and >: a link's address, or a mention (<@U…>,
# <#C…>, <!channel>, <!subteam^…>): only the first may come out of an answer.
_ANGLED = re.compile(r"<([^<>]*)>")


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("plain words ", "plain words "),
        ("a **bold** and *soft* move", "a *bold* and _soft_ move"),
        ("__bold__ and _soft_ and ~~gone~~", "*bold* and _soft_ and ~gone~"),
        ("***both***", "_*both*_"),
        ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
        ("use `x<y`", "use `x&lt;y`"),
        ("```py\nif a<b: pass\n```", "```\nif a&lt;b: pass\n```"),
        ("# Title\n\ntext", "*Title*\n\ntext"),
        ("## A **bold** title", "*A bold title*"),
        ("- one\n- two\n  - deeper", "• one\n• two\n    • deeper"),
        ("3. c\n4. d", "3. c\n4. d"),
        ("> said\n> again", "> said\n> again"),
        ("[site](https://x.test/?a=1&b=2)", "<https://x.test/?a=1&amp;b=2|site>"),
        ("<https://x.test/a>", "<https://x.test/a>"),
        ("![a chart](https://x.test/c.png)", "<https://x.test/c.png|a chart>"),
        ("| a | bb |\n|---|--:|\n| ccc | 1 |", "```\na   | bb\n----+---\nccc |  1\n```"),
        ("<b>raw</b> html", "&lt;b&gt;raw&lt;/b&gt; html"),
        ("---", "———"),
    ],
)
def test_markdown_becomes_slacks_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    "markdown",  # markers Slack would not read there: left as written, not a lost word
    ["foo**bar**baz", "2*3*4 = 24", "snake_case_name"],
)
def test_markers_inside_a_word_stay_as_written(markdown: str) -> None:
    assert to_mrkdwn(markdown) == markdown


@pytest.mark.parametrize(
    ("markdown", "seen"),  # shown as written, as text: no mention, broadcast or odd link
    [
        ("<!channel> everyone look", "<!channel> everyone look"),
        ("hi <@U0PERSON1> and <#C0GENERAL>", "hi <@U0PERSON1> and <#C0GENERAL>"),
        ("[click](@U0PERSON1) [here](!here)", "click (@U0PERSON1) here (!here)"),
        ("[b](relative/path) ![a](javascript:x)", "b (relative/path) ![a](javascript:x)"),
    ],
)
def test_an_answer_never_pings_or_links_to_a_mention(markdown: str, seen: str) -> None:
    shown = to_mrkdwn(markdown)
    assert _ANGLED.findall(shown) == []
    assert visible(shown) == seen


@given(st.text(alphabet="ab *_~`<>&|[]()!#@-\n:/1.", max_size=60))
def test_whatever_the_model_writes_only_web_links_are_angled(markdown: str) -> None:
    for angled in _ANGLED.findall(to_mrkdwn(markdown)):
        assert re.match(r"(https?|mailto):", angled), angled


@pytest.mark.parametrize(
    ("partial", "shown"),  # a growing answer between two edits
    [
        ("**unclosed bold", "**unclosed bold"),
        ("```python\nprint(", "print("),
        ("[half a link](https://x", "[half a link](https://x"),
        ("- item\n  - sub *em", "• item\n    • sub *em"),
    ],
)
def test_a_half_written_answer_shows_as_written_so_far(partial: str, shown: str) -> None:
    assert visible(to_mrkdwn(partial)) == shown


@pytest.fixture
async def api() -> AsyncIterator[FakeSlack]:
    async with fake_slack(token=TOKEN) as server:
        yield server


@pytest.fixture
async def channel(api: FakeSlack) -> AsyncIterator[SlackChannel]:
    made = SlackChannel(bot_token=TOKEN, signing_secret="s", api_url=api.url)
    yield made
    await made.close()


async def test_posts_and_updates_are_sent_as_mrkdwn(api: FakeSlack, channel: SlackChannel) -> None:
    ts = await channel.send(REPLY, "**Done**: 2 < 3")
    await channel.edit(REPLY, ts, "**Done**: 2 < 3, see [docs](https://x.test/d)")
    (post,) = api.called("chat.postMessage")
    (update,) = api.called("chat.update")
    assert (post["mrkdwn"], post["text"]) == (True, "*Done*: 2 &lt; 3")
    assert update["mrkdwn"] is True
    assert update["text"] == "*Done*: 2 &lt; 3, see <https://x.test/d|docs>"
    assert api.texts() == {ts: "Done: 2 < 3, see docs"}


async def test_markup_slack_refuses_is_sent_again_as_plain_text(
    api: FakeSlack, channel: SlackChannel
) -> None:
    api.refuse("chat.postMessage", status=200, retry_after=None, error="invalid_blocks")
    ts = await channel.send(REPLY, "**Done** & dusted")
    first, second = api.calls
    assert (first["ok"], first["params"]["mrkdwn"]) == (False, True)
    assert (second["ok"], second["params"]["mrkdwn"]) == (True, False)
    assert second["params"]["text"] == "**Done** &amp; dusted"
    assert api.texts() == {ts: "**Done** & dusted"}


async def test_other_refusals_are_not_sent_again(api: FakeSlack, channel: SlackChannel) -> None:
    api.refuse("chat.postMessage", status=200, retry_after=None, error="channel_not_found")
    with pytest.raises(ChannelError) as refused:
        await channel.send(REPLY, "**Done**")
    assert "channel_not_found" in refused.value.detail
    assert len(api.calls) == 1  # a refused post is not posted twice in another form


async def test_a_rendering_over_slacks_limit_is_sent_as_plain_text(
    api: FakeSlack, channel: SlackChannel
) -> None:
    # 18,000 characters of table, whose cells padded to the widest take 105,000
    table = f"| {'w' * 30} | b |\n|---|---|\n" + "|a|b|\n" * 3000
    assert len(table) < 40_000 < len(to_mrkdwn(table))
    ts = await channel.send(REPLY, table)
    (post,) = api.called("chat.postMessage")
    assert post["mrkdwn"] is False
    assert api.texts() == {ts: table}
