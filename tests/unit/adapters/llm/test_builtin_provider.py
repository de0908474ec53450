"""The builtin provider: honest offline answers that use the calculator and the clock."""

from chatorch.adapters.llm.builtin import NO_MODEL_ANSWER, BuiltinProvider
from chatorch.domain.llm import Chunk, LLMRequest, Source, ToolCall, Turn
from chatorch.services.tools import builtin_tools

TOOLS = tuple(tool.spec for tool in builtin_tools())


async def collect(request: LLMRequest) -> list[Chunk]:
    return [chunk async for chunk in BuiltinProvider().stream(request)]


def ask(text: str, *, tools: bool = True) -> LLMRequest:
    return LLMRequest(turns=(Turn("user", text),), tools=TOOLS if tools else ())


def tool_calls(chunks: list[Chunk]) -> list[ToolCall]:
    return [call for chunk in chunks for call in chunk.tool_calls]


def text(chunks: list[Chunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


def test_names() -> None:
    provider = BuiltinProvider()
    assert (provider.name, provider.model) == ("builtin", "offline")


async def test_arithmetic_asks_the_calculator() -> None:
    for question, expression in [
        ("what is 12*7?", "12*7"),
        ("calculate (3+4)*2", "(3+4)*2"),
        ("12 x 7", "12 x 7"),
        ("and 2^10?", "2^10"),
    ]:
        chunks = await collect(ask(question))
        [call] = tool_calls(chunks)
        assert call.name == "calculator"
        assert call.arguments == {"expression": expression}
        assert call.id.startswith("call_")
        assert text(chunks) == ""
        assert chunks[-1].usage is not None


async def test_reports_the_tool_result() -> None:
    call = ToolCall("call_1", "calculator", {"expression": "12*7"})
    request = LLMRequest(
        turns=(
            Turn("user", "what is 12*7?"),
            Turn("assistant", tool_calls=(call,)),
            Turn("tool", "84", tool_call_id="call_1"),
        ),
        tools=TOOLS,
    )
    chunks = await collect(request)
    assert text(chunks) == "12*7 = 84."
    assert not tool_calls(chunks)


async def test_reports_a_failed_tool_honestly() -> None:
    calls = (
        ToolCall("c1", "calculator", {"expression": "1/0"}),
        ToolCall("c2", "current_time", {}),
    )
    request = LLMRequest(
        turns=(
            Turn("user", "what is 1/0 and what time is it?"),
            Turn("assistant", tool_calls=calls),
            Turn("tool", "calculator failed: division by zero is undefined", tool_call_id="c1"),
            Turn("tool", "2026-11-22T01:30:00+00:00 (UTC)", tool_call_id="c2"),
        ),
        tools=TOOLS,
    )
    answer = text(await collect(request))
    assert answer == (
        "I could not compute 1/0: division by zero is undefined. "
        "It is now 2026-11-22T01:30:00+00:00 (UTC)."
    )


async def test_time_question_asks_the_clock() -> None:
    for question in ["What time is it?", "what's the date today", "today’s date please"]:
        [call] = tool_calls(await collect(ask(question)))
        assert call.name == "current_time"
        assert call.arguments == {}


async def test_other_questions_get_the_honest_answer() -> None:
    chunks = await collect(ask("Tell me about the Roman empire"))
    assert not tool_calls(chunks)
    assert text(chunks) == NO_MODEL_ANSWER
    assert "No language model is configured" in NO_MODEL_ANSWER
    assert "CHATORCH_LLM=openai:<model>" in NO_MODEL_ANSWER


async def test_no_tool_call_when_tools_are_not_offered() -> None:
    chunks = await collect(ask("what is 12*7?", tools=False))
    assert not tool_calls(chunks)
    assert text(chunks) == NO_MODEL_ANSWER


async def test_streams_word_by_word_with_exact_spacing() -> None:
    chunks = await collect(ask("hello"))
    pieces = [chunk.text for chunk in chunks if chunk.text]
    assert len(pieces) == len(NO_MODEL_ANSWER.split())
    assert "".join(pieces) == NO_MODEL_ANSWER
    assert all(piece.strip() for piece in pieces)
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (1, len(pieces))


async def test_answers_only_the_latest_question() -> None:
    call = ToolCall("call_1", "calculator", {"expression": "1+1"})
    request = LLMRequest(
        turns=(
            Turn("user", "what is 1+1?"),
            Turn("assistant", tool_calls=(call,)),
            Turn("tool", "2", tool_call_id="call_1"),
            Turn("assistant", "1+1 = 2."),
            Turn("user", "thanks!"),
        ),
        tools=TOOLS,
    )
    assert text(await collect(request)) == NO_MODEL_ANSWER


async def test_with_passages_it_quotes_the_sentence_that_answers_and_its_source() -> None:
    passage = (
        "Error ERR-4417 means the tray is empty. Error ERR-4471 means the toner is out."
        " Call support."
    )
    request = LLMRequest(
        turns=(Turn(role="user", content="What does ERR-4471 mean?"),),
        sources=(Source("manual.pdf, page 3", passage), Source("other.md, part 1", "noise")),
    )
    answer = text(await collect(request))
    assert answer == 'From manual.pdf, page 3: "Error ERR-4471 means the toner is out." [1]'


async def test_a_summary_keeps_the_summary_so_far_and_the_questions_since() -> None:
    transcript = "user: Launch is March 3rd.\nassistant: Noted. Anything else?\nuser: Budget?"
    request = LLMRequest(
        turns=(Turn(role="system", content="Summarise."), Turn(role="user", content=transcript)),
        sources=(Source("the summary so far", "They picked Lisbon."),),
        task="summary",
    )
    summary = text(await collect(request))
    assert summary.startswith("They picked Lisbon. The user asked 'Launch is March 3rd.'")
    assert "(answer: Noted.)" in summary
    assert "asked 'Budget?'" in summary
