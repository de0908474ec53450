"""``chatorch chat``: one message to a running server, its answer streamed to stdout."""

import asyncio
import sys
from typing import Annotated

import typer

from chatorch.cli.common import fail


def chat(
    text: Annotated[str, typer.Argument(help="the message to send")],
    url: Annotated[str, typer.Option(help="chatorch base URL")] = "http://127.0.0.1:8000",
    chat_id: Annotated[str | None, typer.Option("--chat", help="continue this chat")] = None,
) -> None:
    """Send one message and print the answer's tokens as they arrive."""
    from chatorch.client import ClientError, converse

    try:
        ok = asyncio.run(converse(url, text, chat_id=chat_id, out=sys.stdout, err=sys.stderr))
    except ClientError as error:
        fail(str(error))
    raise typer.Exit(code=0 if ok else 1)
