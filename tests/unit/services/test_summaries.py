"""How much of a chat one summary reads: the turns since the last summary, oldest
first, a window at a time, failed answers left out."""

from chatorch.domain.entities import Chat, Message, Role, Status
from chatorch.domain.ids import new_id
from chatorch.services.summaries import _transcript

CHAT = Chat(owner_id=new_id())


def _turn(question: str, answer: str, status: Status = Status.COMPLETE) -> list[Message]:
    asked = Message(chat_id=CHAT.id, role=Role.USER, content=question, response_id=new_id())
    answered = Message(
        chat_id=CHAT.id,
        role=Role.ASSISTANT,
        content=answer,
        response_id=asked.response_id,
        status=status,
    )
    return [asked, answered]


def test_the_turns_since_the_last_summary_up_to_the_latest_answer() -> None:
    first, second, third = _turn("a?", "A."), _turn("b?", "B."), _turn("c?", "C.")
    messages = [*first, *second, *third]
    text, through = _transcript(messages, after=first[1].id, through=third[1].id, limit=1_000)
    assert text == "user: b?\nassistant: B.\nuser: c?\nassistant: C."
    assert through == third[1].id


def test_a_long_backlog_is_read_a_window_at_a_time_oldest_first() -> None:
    messages = [m for n in range(10) for m in _turn(f"question {n}?", "x" * 80)]
    text, through = _transcript(messages, after=None, through=messages[-1].id, limit=300)
    assert text.startswith("user: question 0?")
    assert len(text) <= 300
    assert through is not None
    assert through < messages[-1].id  # the rest waits for the next window
    assert through in {m.id for m in messages if m.role is Role.ASSISTANT}


def test_failed_answers_and_later_questions_are_left_out() -> None:
    failed = _turn("broken?", "half", Status.FAILED)
    fine = _turn("ok?", "Yes.")
    later = _turn("new?", "not yet")
    messages = [*failed, *fine, *later]
    text, through = _transcript(messages, after=None, through=fine[1].id, limit=1_000)
    assert text == "user: broken?\nuser: ok?\nassistant: Yes."
    assert through == fine[1].id


def test_nothing_new_is_no_window() -> None:
    done = _turn("a?", "A.")
    assert _transcript(done, after=done[1].id, through=done[1].id, limit=1_000) == ("", None)
