"""``chatorch chat`` on a terminal: a prompt with history, a few commands, Ctrl-C to stop.

The prompt is the standard library's ``input`` with ``readline`` (arrow keys, editing,
history kept between sessions in ``$XDG_STATE_HOME/chatorch/chat_history``). Ctrl-C or
Ctrl-D at the prompt ends the session; Ctrl-C during an answer cancels the answer.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatorch.cli.conversation import Conversation
from chatorch.cli.render import AnswerView
from chatorch.client import ClientError

PROMPT = "› "
HISTORY_LINES = 1000
HELP = "/new a new chat · /chats pick one of yours · /quit or Ctrl-D · Ctrl-C stops an answer"


def talk(conversation: Conversation, console: Console) -> None:
    """Read questions until the user quits; show each answer as it streams."""
    console.print(Text(f"chatorch at {conversation.url} — {HELP}", style="dim"))
    with _history():
        while True:
            try:
                line = input(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                console.print()  # leave the prompt's line
                return
            if not line:
                continue
            if line.startswith("/"):
                if not _command(line, conversation, console):
                    return
                continue
            try:
                conversation.ask(line, AnswerView(console, console), interruptible=True)
            except ClientError as error:
                console.print(Text(str(error), style="red"))


def _command(line: str, conversation: Conversation, console: Console) -> bool:
    """Run a slash command; False when it ends the session."""
    name = line.split()[0].lower()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/new":
        conversation.chat_id = None
        console.print(Text("a new chat starts with your next message", style="dim"))
    elif name == "/chats":
        try:
            _pick_chat(conversation, console)
        except ClientError as error:
            console.print(Text(str(error), style="red"))
    elif name == "/help":
        console.print(Text(HELP, style="dim"))
    else:
        console.print(Text(f"unknown command {name}; {HELP}", style="yellow"))
    return True


def _pick_chat(conversation: Conversation, console: Console) -> None:
    chats = conversation.recent()
    if not chats:
        console.print(Text("no chats yet: send a message to start one", style="dim"))
        return
    table = Table("#", "title", "started", header_style="bold", box=None)
    for number, chat in enumerate(chats, 1):
        current = " (this one)" if chat["id"] == conversation.chat_id else ""
        title = (chat["title"] or "Untitled chat") + current
        table.add_row(str(number), title, chat["created_at"][:16].replace("T", " "))
    console.print(table)
    try:
        choice = input("open which? (number; Enter stays here) ").strip()
    except (EOFError, KeyboardInterrupt):
        console.print()
        return
    if not choice:
        return
    if not choice.isdigit() or not 1 <= int(choice) <= len(chats):
        console.print(Text(f"no chat {choice!r} in the list", style="yellow"))
        return
    chosen = chats[int(choice) - 1]
    conversation.chat_id = chosen["id"]
    console.print(Text(f"now in “{chosen['title'] or 'Untitled chat'}”", style="dim"))


@contextlib.contextmanager
def _history() -> Iterator[None]:
    """Load the prompt's history, and save it when the session ends."""
    try:
        import readline
    except ImportError:  # pragma: no cover - a Python built without readline
        yield
        return
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = state / "chatorch" / "chat_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
