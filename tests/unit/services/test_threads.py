"""A request's messages as a conversation, its fingerprint, and the turns it brings."""

import pytest

from chatorch.domain.entities import Role, Status
from chatorch.domain.errors import InvalidInput
from chatorch.domain.ids import new_id
from chatorch.services.threads import Said, conversation, fingerprint, imported_turns


class TestConversation:
    def test_system_messages_are_instructions_and_the_last_user_message_the_question(
        self,
    ) -> None:
        asked = conversation(
            [
                ("system", "Be terse."),
                ("user", "hi"),
                ("assistant", "hello"),
                ("tool", '{"result": 1}'),
                ("developer", "Use French."),
                ("user", "how are you?"),
            ]
        )
        assert asked.instructions == "Be terse.\n\nUse French."
        assert asked.earlier == (Said("user", "hi"), Said("assistant", "hello"))
        assert asked.question == "how are you?"
        assert asked.title == "hi"

    @pytest.mark.parametrize(
        "messages",
        [[], [("system", "only rules")], [("user", "q"), ("assistant", "a")], [("user", "a\x00")]],
    )
    def test_a_conversation_without_a_question_is_refused(
        self, messages: list[tuple[str, str]]
    ) -> None:
        with pytest.raises(InvalidInput):
            conversation(messages)


def test_a_fingerprint_tells_order_roles_and_text_apart() -> None:
    one = [Said("user", "a"), Said("assistant", "b")]
    assert fingerprint(one) == fingerprint(list(one))
    others = [
        [Said("assistant", "b"), Said("user", "a")],
        [Said("user", "a"), Said("user", "b")],
        [Said("user", "ab")],
        [Said("user", "a"), Said("assistant", "b "), Said("user", "")],
    ]
    assert len({fingerprint(one), *(fingerprint(other) for other in others)}) == 5


class TestImportedTurns:
    def test_each_question_and_its_answer_share_a_turn(self) -> None:
        chat_id = new_id()
        said = [
            Said("assistant", "Welcome!"),  # answers nothing: left out
            Said("user", "one"),
            Said("user", "two"),
            Said("assistant", "three"),
            Said("user", "four"),
        ]
        turns = imported_turns(chat_id, said)
        assert [(t.role, t.content) for t in turns] == [
            (Role.USER, "one\n\ntwo"),
            (Role.ASSISTANT, "three"),
            (Role.USER, "four"),
        ]
        assert turns[0].response_id == turns[1].response_id != turns[2].response_id
        assert turns[1].response_id < turns[2].response_id  # conversation order
        assert {t.status for t in turns} == {Status.COMPLETE}  # nothing left to answer
        assert {t.chat_id for t in turns} == {chat_id}
        assert all(t.metadata == {"imported": True} for t in turns)
