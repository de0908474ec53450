"""The ContextManager's budget: passages and the question first, the newest turns that
fit, and the chat's summary in place of the turns left out."""

from chatorch.domain.entities import Chat, ChatSummary, Message, Role
from chatorch.domain.ids import new_id
from chatorch.domain.llm import Turn
from chatorch.services.context import ContextManager
from chatorch.services.prompts import Prompt

CHAT = Chat(owner_id=new_id())


def _system(summary: str) -> Prompt:
    return Prompt("system", 3, "Be brief." + (f"\nSo far: {summary}" if summary else ""))


def _turns(count: int, size: int = 100) -> list[Turn]:
    turns: list[Turn] = []
    for n in range(count):
        turns += [Turn("user", f"q{n} " + "x" * size), Turn("assistant", f"a{n} " + "y" * size)]
    return turns


def _question() -> Message:
    return Message(chat_id=CHAT.id, role=Role.USER, content="and now?", response_id=new_id())


async def test_everything_fits_no_summary_is_read() -> None:
    read: list[bool] = []

    async def summary() -> ChatSummary | None:
        read.append(True)
        return None

    context = await ContextManager(max_chars=10_000).build(
        _system, _turns(3), _question(), summary=summary
    )
    assert [t.role for t in context.turns] == ["system", *["user", "assistant"] * 3, "user"]
    assert context.makeup() == {"turns": 6, "summary": False, "passages": 0}
    assert context.prompt.ref == "system@3"
    assert read == []  # nothing was left out: the summary is not even looked up


async def test_the_summary_stands_in_for_the_turns_left_out() -> None:
    history = _turns(10)
    gist = ChatSummary(CHAT.id, "they planned a trip", "summary@1", new_id())

    async def summary() -> ChatSummary | None:
        return gist

    context = await ContextManager(max_chars=1_000).build(
        _system, history, _question(), summary=summary
    )
    assert context.summary is True
    assert "So far: they planned a trip" in context.turns[0].content
    kept = [t.content for t in context.turns[1:-1]]
    assert kept == [t.content for t in history[-len(kept) :]]  # the newest, in order
    assert 0 < len(kept) < len(history)
    assert sum(len(t.content) for t in context.turns) <= 1_000


async def test_an_incomplete_history_uses_the_summary_even_when_it_fits() -> None:
    gist = ChatSummary(CHAT.id, "earlier: the budget", "summary@2", new_id())

    async def summary() -> ChatSummary | None:
        return gist

    context = await ContextManager(max_chars=10_000).build(
        _system, _turns(2), _question(), summary=summary, complete=False
    )
    assert context.summary is True
    assert context.makeup()["turns"] == 4
