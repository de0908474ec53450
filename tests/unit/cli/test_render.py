"""How ``chatorch chat`` writes a tool call and an answer where no terminal is."""

import io

from rich.console import Console

from chatorch.cli.render import AnswerView, describe_call


class TestToolCalls:
    def test_one_argument_shows_its_value_and_the_output(self) -> None:
        call = {
            "name": "calculator",
            "arguments": {"expression": "12*7"},
            "ok": True,
            "output": "84",
        }
        assert describe_call(call) == "→ calculator(12*7) = 84"

    def test_several_arguments_are_named_and_a_failure_says_why(self) -> None:
        call = {"name": "http", "arguments": {"a": 1, "b": "x"}, "ok": False, "output": "timed out"}
        assert describe_call(call) == "→ http(a=1, b=x) failed: timed out"

    def test_a_long_output_is_one_short_line(self) -> None:
        call = {"name": "search", "arguments": {}, "ok": True, "output": "word\n" * 100}
        line = describe_call(call)
        assert "\n" not in line
        assert line.endswith("…")
        assert len(line) < 100


class TestPlainOutput:
    def test_tokens_are_the_text_as_said_and_steps_go_to_the_notes(self) -> None:
        out, notes = io.StringIO(), io.StringIO()
        view = AnswerView(Console(file=out), Console(file=notes))
        view.step("think", {"decision": "tools"})
        view.step("act", {"calls": [{"name": "clock", "arguments": {}, "output": "noon"}]})
        for token in ("**It", " is**", " noon."):
            view.token(token)
        view.done({"finish_reason": "cancelled"})
        assert out.getvalue() == "**It is** noon.\n"  # Markdown left as is for scripts
        assert notes.getvalue() == "→ clock() = noon\n■ stopped\n"
