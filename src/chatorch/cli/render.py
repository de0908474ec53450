"""How ``chatorch chat`` shows an answer: Markdown on a terminal, steps as dim lines.

On a terminal the answer is Markdown, rendered by rich as it streams (a live region
redrawn as tokens come). Elsewhere — piped, redirected — it is the plain text, written
as it arrives, so scripts get exactly what the model said. Tool calls are one dim line
each, ``→ calculator(12*7) = 84``; where they go (the answer's stream or stderr) is
the caller's choice.
"""

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

OUTPUT_SHOWN = 80  # characters of a tool's output on its line


class AnswerView:
    """One answer on ``out``, with its steps and notes on ``notes``."""

    def __init__(self, out: Console, notes: Console) -> None:
        self._out, self._notes = out, notes
        self._markdown = out.is_terminal
        self._text = ""  # of the part streaming now (a tool round ends a part)
        self._live: Live | None = None

    def token(self, text: str) -> None:
        self._text += text
        if not self._markdown:
            self._out.file.write(text)
            self._out.file.flush()
            return
        if self._live is None:
            self._live = Live(console=self._out, auto_refresh=False, vertical_overflow="visible")
            self._live.start()
        self._live.update(Markdown(self._text), refresh=True)

    def step(self, stage: str, detail: dict[str, Any]) -> None:
        if stage != "act":  # think and respond say who answered: the done line does
            return
        self._end_part()
        for call in detail.get("calls", ()):
            self.note(describe_call(call))

    def reset(self, attempt: int) -> None:
        self._end_part(keep=False)
        self.note(f"↻ the answer starts again (attempt {attempt})")

    def done(self, data: dict[str, Any]) -> None:
        whole = data.get("content")  # sent when the stream lost part of the answer
        if isinstance(whole, str) and whole != self._text:
            self._end_part(keep=False)
            self.note("↻ part of the answer's stream was lost; here it is whole")
            if self._markdown:
                self._out.print(Markdown(whole))
            else:
                self._out.file.write(whole + "\n")
                self._out.file.flush()
        self._end_part()
        if data.get("finish_reason") == "cancelled":
            self.note("■ stopped")

    def error(self, code: str, detail: str) -> None:
        self._end_part()
        self._notes.print(Text(f"error: {detail} ({code})", style="red"))

    def note(self, text: str) -> None:
        self._notes.print(Text(text, style="dim"))

    def close(self) -> None:
        """End the live region, whatever happened (an interrupt included)."""
        self._end_part()

    def _end_part(self, *, keep: bool = True) -> None:
        if self._live is not None:
            if not keep:
                self._live.update(Text(""), refresh=True)
            self._live.stop()
            self._live = None
        elif self._text and not self._markdown and not self._text.endswith("\n"):
            self._out.file.write("\n")
            self._out.file.flush()
        self._text = ""


def describe_call(call: dict[str, Any]) -> str:
    """``→ name(arguments) = output``, or ``→ name(arguments) failed: why``."""
    arguments = call.get("arguments") or {}
    if isinstance(arguments, dict) and len(arguments) == 1:
        shown = str(next(iter(arguments.values())))
    elif isinstance(arguments, dict):
        shown = ", ".join(f"{name}={value}" for name, value in arguments.items())
    else:
        shown = str(arguments)
    output = " ".join(str(call.get("output", "")).split())
    if len(output) > OUTPUT_SHOWN:
        output = output[: OUTPUT_SHOWN - 1] + "…"
    outcome = f" = {output}" if call.get("ok", True) else f" failed: {output}"
    return f"→ {call.get('name', '?')}({shown}){outcome}"
