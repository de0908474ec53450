"""The system prompt: what the model is told, and which template version said it."""

from datetime import UTC, datetime

from chatorch.services.prompts import PromptManager


def test_the_system_prompt_names_the_tools_and_the_date() -> None:
    prompt = PromptManager().system(tools=["calculator", "clock"])
    assert prompt.ref == "system@1"
    assert "You can call these tools when they help: calculator, clock." in prompt.text
    assert f"The current date is {datetime.now(UTC).date().isoformat()}." in prompt.text


def test_without_tools_no_tool_line() -> None:
    assert "tools" not in PromptManager().system(tools=[]).text


def test_a_summary_is_included_for_its_chat_only() -> None:
    prompts = PromptManager()
    summed = prompts.system(tools=[], summary="Ada asked about engines.")
    assert summed.text.endswith("Summary of the conversation so far:\nAda asked about engines.")
    assert "Summary" not in prompts.system(tools=[]).text


def test_a_newer_template_is_used_from_the_next_prompt_on() -> None:
    prompts = PromptManager()
    assert prompts.system(tools=["clock"]).ref == "system@1"  # rendered and kept
    prompts.register("system", 2, "You are {{ assistant_name }}. {{ today }} {{ tools }}")
    newer = prompts.system(tools=["clock"])
    assert newer.ref == "system@2"
    assert newer.text.startswith("You are chatorch. ")


def test_an_older_version_does_not_replace_a_newer_one() -> None:
    prompts = PromptManager()
    prompts.register("system", 0, "old {{ today }}")
    assert prompts.system(tools=[]).ref == "system@1"
