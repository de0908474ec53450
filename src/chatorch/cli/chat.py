"""``chatorch chat``: talk to a running server.

On a terminal it is a conversation (``cli/repl.py``); with a message as its argument,
or one piped in (``echo "what is 12*7?" | chatorch chat``), it sends that one message,
prints the answer and exits: 0 when the answer completed, 1 when it failed or the
server could not be reached.
"""

import os
import sys
from typing import Annotated

import typer

from chatorch.cli.common import fail

UNSPECIFIED_HOSTS = ("", "0.0.0.0", "::", "[::]")  # bound to every address: ask loopback


def chat(
    text: Annotated[
        str | None,
        typer.Argument(help="send this one message and exit (else stdin, or a conversation)"),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            envvar="CHATORCH_URL",
            metavar="URL",
            show_default=False,
            help="the server; else http://$CHATORCH_HOST:$CHATORCH_PORT",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="CHATORCH_API_KEY",
            metavar="KEY",
            show_default=False,
            show_envvar=False,  # the help would print the key
            help="API key, when the server requires one; default: $CHATORCH_API_KEY",
        ),
    ] = None,
    chat_id: Annotated[
        str | None, typer.Option("--chat", metavar="ID", help="continue this chat")
    ] = None,
) -> None:
    """Talk with chatorch: a conversation on a terminal, one answer when given a message."""
    from rich.console import Console

    from chatorch.cli.conversation import Conversation
    from chatorch.cli.render import AnswerView
    from chatorch.client import ClientError

    conversation = Conversation(url or _default_url(), key=key or None, chat_id=chat_id)
    if text is None and sys.stdin.isatty():
        from chatorch.cli.repl import talk

        talk(conversation, Console(highlight=False))
        return
    message = text if text is not None else sys.stdin.read()
    if not message.strip():
        fail("nothing to send: give a message, or pipe one in")
    view = AnswerView(Console(highlight=False), Console(stderr=True, highlight=False))
    try:
        ok = conversation.ask(message.strip(), view)
    except ClientError as error:
        fail(str(error))
    raise typer.Exit(code=0 if ok else 1)


def _default_url() -> str:
    """``http://$CHATORCH_HOST:$CHATORCH_PORT``, with the settings' defaults."""
    from chatorch.settings import Settings

    fields = Settings.model_fields
    host = os.environ.get("CHATORCH_HOST", fields["host"].default)
    port = os.environ.get("CHATORCH_PORT", str(fields["port"].default))
    if host in UNSPECIFIED_HOSTS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"
