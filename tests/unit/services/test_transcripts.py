"""A chat as Markdown: turns in order with role and time, tools and sources of answers,
and nothing taken from data able to break the document's own markup."""

from datetime import UTC, datetime, timedelta

from chatorch.domain.entities import Chat, Message, Role, Status
from chatorch.domain.ids import new_id
from chatorch.services.transcripts import code, escape, fenced, markdown

START = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
CHAT = Chat(owner_id=new_id(), title="Lisbon", created_at=START)


def _turn(question: str, answer: str, **metadata: object) -> list[Message]:
    response = new_id()
    return [
        Message(CHAT.id, Role.USER, question, response, Status.COMPLETE, created_at=START),
        Message(
            CHAT.id,
            Role.ASSISTANT,
            answer,
            response,
            Status(str(metadata.pop("status", "complete"))),
            created_at=START + timedelta(seconds=2),
            metadata=dict(metadata),
        ),
    ]


def _export(*messages: Message, chat: Chat = CHAT) -> str:
    return markdown(chat, messages, exported_at=START + timedelta(days=1))


class TestDocument:
    def test_a_heading_then_each_turn_with_its_role_and_time(self) -> None:
        text = _export(*_turn("Where to eat?", "*Time Out Market*.", model="gpt-4o-mini"))
        assert text == (
            "# Lisbon\n\n"
            f"Chat `{CHAT.id}` · started 2026-05-01 09:30:00 UTC · exported"
            " 2026-05-02 09:30:00 UTC · 2 messages\n\n"
            "---\n\n## User · 2026-05-01 09:30:00 UTC\n\nWhere to eat?\n\n"
            "---\n\n## Assistant · 2026-05-01 09:30:02 UTC · gpt-4o-mini\n\n"
            "*Time Out Market*.\n"
        )

    def test_an_untitled_chat_says_so(self) -> None:
        untitled = Chat(owner_id=CHAT.owner_id, title="", created_at=START)
        assert _export(chat=untitled).startswith("# Untitled chat\n")

    def test_a_failed_answer_says_why(self) -> None:
        failed = _turn("q", "half an ans", status="failed", error={"detail": "the model stalled"})
        assert "half an ans\n\n> This answer failed: the model stalled\n" in _export(*failed)


class TestToolsAndSources:
    def test_each_tool_call_with_its_arguments_and_output(self) -> None:
        call = {"name": "lookup", "arguments": {"city": "Lisboa"}, "ok": False, "output": "down"}
        text = _export(*_turn("q", "a", tool_calls=[call]))
        assert "**Tool call** `lookup` (failed)\n\n" in text
        assert '```json\n{\n  "city": "Lisboa"\n}\n```\n\n```text\ndown\n```\n' in text

    def test_sources_are_numbered_with_page_or_part_and_score(self) -> None:
        cited = [
            {"file_id": "f1", "name": "guide.pdf", "chunk": 2, "page": 7, "score": 0.912},
            {"file_id": "f2", "name": "notes.md", "chunk": 0},
            {"file_id": "f3"},
        ]
        text = _export(*_turn("q", "a", citations=cited))
        assert (
            "**Sources**\n\n1. guide.pdf, page 7 (score 0.91)\n2. notes.md, part 1\n3. f3\n" in text
        )

    def test_metadata_of_another_shape_is_skipped_not_fatal(self) -> None:
        text = _export(*_turn("q", "a", tool_calls="none", citations=[None, 3]))
        assert "Tool call" not in text
        assert "Sources" not in text


class TestEscaping:
    def test_markup_in_data_is_taken_literally_and_on_one_line(self) -> None:
        assert escape("# [a](b) *c*\n_d_ `e` <f>") == r"\# \[a\](b) \*c\* \_d\_ \`e\` \<f\>"

    def test_inline_code_outlasts_the_backticks_it_holds(self) -> None:
        assert code("a`b") == "``a`b``"
        assert code("`x`") == "`` `x` ``"

    def test_a_fence_is_longer_than_any_run_of_backticks_inside(self) -> None:
        assert fenced("```\nnot the end\n````", "text") == (
            "`````text\n```\nnot the end\n````\n`````"
        )
