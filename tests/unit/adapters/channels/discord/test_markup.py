"""Discord's markup: the answer as written, but for the blocks Discord shows raw, and as
written when Discord refuses the rewrite; no answer pings anyone."""

from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.channels.discord import DiscordChannel
from chatorch.adapters.channels.discord.markup import to_discord
from tests.conftest import remember
from tests.fixtures.fake_discord import (
    APPLICATION_ID,
    FakeDiscord,
    fake_discord,
    interaction_token,
    signing_key,
)

_, PUBLIC_KEY = signing_key()


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        (
            "| a | bb |\n|---|--:|\n| ccc | 1 |\n\nafter",
            "```\na   | bb\n----+---\nccc |  1\n```\n\nafter",
        ),
        ("#### Deep **and bold**\ntext", "### Deep **and bold**\ntext"),
        ("Title\n=====\n\nSub\n---\n", "# Title\n\n## Sub\n"),
        ("above\n\n***\n\nbelow", "above\n\n———\n\nbelow"),
        ("~~~py\nprint(1)\n~~~", "```py\nprint(1)\n```"),
        ("text\n\n    indented()\n", "text\n\n```\nindented()\n```\n"),
        ("see ![a chart](https://x.test/c.png) here", "see [a chart](https://x.test/c.png) here"),
        ("- item ![i](https://x.test/i.png)", "- item [i](https://x.test/i.png)"),
    ],
)
def test_what_discord_shows_raw_is_rewritten(markdown: str, shown: str) -> None:
    assert to_discord(markdown) == shown


@pytest.mark.parametrize(
    "markdown",  # Discord renders these itself: sent byte for byte as the model wrote them
    [
        "a **bold**, *soft*, ~~gone~~ and `code` line\n",
        "# One\n## Two\n### Three\n\n- a\n  - b\n1. c\n\n> quoted\n",
        "```python\nx = 1\n```\n\n[site](https://x.test) <https://x.test>",
        "@everyone <@80351110224678912> <b>html</b>",
        "**half-written bold\n```py\nstill open",
    ],
)
def test_what_discord_renders_goes_as_written(markdown: str) -> None:
    assert to_discord(markdown) == markdown


def test_an_image_beside_code_that_looks_like_one_is_left_as_written() -> None:
    """Which ``![…](`` is the image is not known from the lines: none is touched."""
    markdown = "`![not](an image)` is code, ![this](https://x.test/i.png) is not"
    assert to_discord(markdown) == markdown


@pytest.fixture
async def api() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
async def channel(api: FakeDiscord) -> AsyncIterator[DiscordChannel]:
    made = DiscordChannel(
        application_id=APPLICATION_ID,
        public_key=PUBLIC_KEY,
        bot_token=remember("MTE4.markup.discord-bot-token"),
        api_url=api.url,
    )
    yield made
    await made.close()


REPLY = {"application_id": APPLICATION_ID, "token": remember(interaction_token(1))}
TABLE = "| a | b |\n|---|---|\n| 1 | 2 |"


async def test_every_message_and_edit_is_rewritten_and_pings_nobody(
    api: FakeDiscord, channel: DiscordChannel
) -> None:
    first = await channel.send(REPLY, f"@everyone look:\n\n{TABLE}")
    follow_up = await channel.send(REPLY, "and <@80351110224678912>")
    await channel.edit(REPLY, follow_up, f"and <@80351110224678912>:\n\n{TABLE}")
    assert [call["json"]["allowed_mentions"] for call in api.calls] == [{"parse": []}] * 3
    table = "```\na | b\n--+--\n1 | 2\n```"
    assert api.shown(interaction_token(1)) == [
        f"@everyone look:\n\n{table}",
        f"and <@80351110224678912>:\n\n{table}",
    ]
    assert first == "@original"


async def test_a_rewrite_discord_refuses_goes_as_written(
    api: FakeDiscord, channel: DiscordChannel
) -> None:
    api.refuse(status=400)
    assert await channel.send(REPLY, TABLE) == "@original"
    first, second = api.calls
    assert (first["ok"], first["json"]["content"]) == (False, to_discord(TABLE))
    assert (second["ok"], second["json"]["content"]) == (True, TABLE)
    assert second["json"]["allowed_mentions"] == {"parse": []}
    assert api.shown(interaction_token(1)) == [TABLE]


async def test_a_rewrite_over_2000_characters_goes_as_written(
    api: FakeDiscord, channel: DiscordChannel
) -> None:
    # 1,300 characters of table, whose cells padded to the widest take 4,000
    table = f"| {'w' * 30} | b |\n|---|---|\n" + "|a|b|\n" * 200
    assert len(table) <= 2000 < len(to_discord(table))
    await channel.send(REPLY, table)
    (call,) = api.calls
    assert call["json"]["content"] == table
