"""The ContextManager's budget: passages and the question first, the newest turns that
fit, and the chat's summary in place of the turns left out."""

from chatorch.domain.entities import Chat, ChatSummary, Message, Role, Status
from chatorch.domain.ids import new_id
from chatorch.services.context import ContextManager
from chatorch.services.prompts import Prompt

CHAT = Chat(owner_id=new_id())


def _system(summary: str) -> Prompt:
    return Prompt("system", 3, "Be brief." + (f"\nSo far: {summary}" if summary else ""))


def _turns(count: int, size: int = 100) -> list[Message]:
    messages: list[Message] = []
    for n in range(count):
        asked = Message(
            chat_id=CHAT.id, role=Role.USER, content=f"q{n} " + "x" * size, response_id=new_id()
        )
        answer = Message(
            chat_id=CHAT.id,
            role=Role.ASSISTANT,
            content=f"a{n} " + "y" * size,
            response_id=asked.response_id,
            status=Status.COMPLETE,
        )
        messages += [asked, answer]
    return messages


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
    gist = ChatSummary(CHAT.id, "they planned a trip", "summary@1", history[-1].id)

    async def summary() -> ChatSummary | None:
        return gist

    context = await ContextManager(max_chars=1_000).build(
        _system, history, _question(), summary=summary
    )
    assert context.summary is True
    assert "So far: they planned a trip" in context.turns[0].content
    kept = [t.content for t in context.turns[1:-1]]
    assert kept == [m.content for m in history[-len(kept) :]]  # the newest, in order
    assert 0 < len(kept) < len(history)
    assert sum(len(t.content) for t in context.turns) <= 1_000


async def test_a_failed_answer_never_enters_the_prompt() -> None:
    history = _turns(1)
    history[1].status = Status.FAILED
    context = await ContextManager(max_chars=10_000).build(_system, history, _question())
    assert [t.role for t in context.turns] == ["system", "user", "user"]


async def test_an_incomplete_history_uses_the_summary_even_when_it_fits() -> None:
    gist = ChatSummary(CHAT.id, "earlier: the budget", "summary@2", new_id())

    async def summary() -> ChatSummary | None:
        return gist

    context = await ContextManager(max_chars=10_000).build(
        _system, _turns(2), _question(), summary=summary, complete=False
    )
    assert context.summary is True
    assert context.makeup()["turns"] == 4
