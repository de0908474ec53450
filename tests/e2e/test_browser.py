"""The web page, driven in headless Chromium against a real ``chatorch serve``."""

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI) without Playwright
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Locator, Page, Request

pytestmark = pytest.mark.browser

WAIT = 10_000  # ms for any one expectation
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def problems(page: "Page") -> list[str]:
    """Console errors and uncaught exceptions (a CSP violation is a console error)."""
    seen: list[str] = []

    def on_console(message: "ConsoleMessage") -> None:
        if message.type == "error":
            seen.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def _new_chat(page: "Page") -> str:
    page.locator("#new-chat").click()
    current = page.locator("#chat-list [aria-current]")
    expect(current).to_have_count(1, timeout=WAIT)
    chat_id = current.get_attribute("data-chat-id")
    assert chat_id is not None
    return chat_id


def _is_message_post(request: "Request") -> bool:
    return request.method == "POST" and request.url.endswith("/messages")


def test_question_streams_an_answer_that_survives_a_reload(
    page: "Page", server_url: str, tmp_path: Path, problems: list[str]
) -> None:
    page.goto(server_url)
    chat_id = _new_chat(page)
    expect(page.locator("#messages .message")).to_have_count(0)

    box = page.locator("#composer textarea")
    box.fill("what is 12*7?")
    with page.expect_request(_is_message_post, timeout=WAIT) as posted:
        box.press("Enter")
    assert UUID.match(posted.value.headers.get("idempotency-key", ""))

    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_contain_text("84", timeout=WAIT)
    steps = answer.locator(".steps")
    expect(steps).to_be_visible()
    expect(steps.locator('.step[data-stage="think"]').first).to_contain_text(
        "think: tools calculator"
    )
    expect(steps.locator('.step[data-stage="act"]')).to_contain_text("calculator(12*7) → 84")
    expect(steps.locator('.step[data-stage="respond"]')).to_contain_text("respond: builtin/offline")
    question = page.locator("#messages .message.user")
    expect(question).to_have_text(re.compile(r"what is 12\*7\?"))
    expect(question).to_have_attribute("data-status", "complete")
    expect(box).to_have_value("")
    page.screenshot(path=tmp_path / "chat.png", full_page=True)

    page.reload()
    page.locator(f'#chat-list [data-chat-id="{chat_id}"]').click()
    expect(page.locator("#chat-list [aria-current]")).to_have_attribute("data-chat-id", chat_id)
    history = page.locator("#messages .message")
    expect(history).to_have_count(2, timeout=WAIT)
    expect(history.nth(0)).to_have_attribute("data-role", "user")
    expect(history.nth(0).locator(".content")).to_have_text("what is 12*7?")
    expect(history.nth(1)).to_have_attribute("data-role", "assistant")
    expect(history.nth(1)).to_have_attribute("data-status", "complete")
    expect(history.nth(1).locator(".content")).to_contain_text("84")
    page.screenshot(path=tmp_path / "history.png", full_page=True)
    assert problems == []


def test_a_real_provider_streams_tokens_and_tool_steps(
    page: "Page", openai_server_url: str, problems: list[str]
) -> None:
    page.goto(openai_server_url)
    chat_id = _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_have_text("The answer is 84.")
    steps = answer.locator(".steps")
    expect(steps.locator('.step[data-stage="act"]')).to_contain_text("calculator(12*7) → 84")
    expect(steps.locator('.step[data-stage="respond"]')).to_contain_text("openai/gpt-fake")
    live = _steps(answer)

    page.reload()
    page.locator(f'#chat-list [data-chat-id="{chat_id}"]').click()
    reloaded = page.locator("#messages .message.assistant").last
    expect(reloaded).to_have_attribute("data-status", "complete", timeout=WAIT)
    assert _steps(reloaded) == live
    assert problems == []


def test_blank_message_is_not_sent_and_server_problems_are_shown(
    page: "Page", server_url: str, max_content_chars: int, problems: list[str]
) -> None:
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if _is_message_post(request) else None
    )
    page.goto(server_url)
    _new_chat(page)
    box, send = page.locator("#composer textarea"), page.locator("#send")

    box.fill("   \n ")
    expect(send).to_be_disabled()
    box.press("Enter")  # Enter on a blank box sends nothing either
    expect(page.locator("#messages .message")).to_have_count(0)

    # The server's RFC 9457 detail reaches the error area; nothing joins the chat.
    box.fill("x" * (max_content_chars + 1))
    expect(send).to_be_enabled()
    send.click()
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=WAIT)
    expect(error).to_contain_text(
        f"content has {max_content_chars + 1} characters; the limit is {max_content_chars}"
    )
    expect(page.locator("#messages .message")).to_have_count(0)
    # Requests go out in order, so the rejected one being the only POST proves the
    # blank Enter before it never reached the server.
    assert len(posts) == 1
    page.locator("#error-dismiss").click()
    expect(error).to_be_hidden()
    # The 413 shows up as a console error of the failed fetch; nothing else may.
    assert [p for p in problems if "413" not in p] == []


def test_a_retried_then_failed_answer_shows_its_error(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    # The browser sees a canned stream: a partial answer, a retry, then the failure.
    def sse(kind: str, seq: int, **data: object) -> str:
        return f"id: r:{seq}\nevent: {kind}\ndata: {json.dumps({'seq': seq, **data})}\n\n"

    stream = (
        sse("token", 0, text="half an answ")
        + sse("reset", 1, attempt=2)
        + sse("error", 2, code="llm_unavailable", detail="every model in the chain failed")
    )
    page.route(
        "**/v1/chats/*/events?*",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=stream),
    )
    page.goto(server_url)
    _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    page.locator("#send").click()

    answer = page.locator("#messages .message.assistant")
    expect(answer).to_have_attribute("data-status", "failed", timeout=WAIT)
    expect(answer.locator(".note")).to_have_text("every model in the chain failed")
    expect(answer.locator(".content")).to_have_text("")  # the partial text was reset
    expect(page.locator("#messages .message.user")).to_have_attribute("data-status", "failed")
    assert problems == []


def _steps(answer: "Locator") -> list[str]:
    return [text.strip() for text in answer.locator(".steps .step").all_text_contents()]


@pytest.mark.parametrize(
    ("question", "first_step"),
    [("what is 12*7?", "think: tools calculator"), ("hello", "think: answer")],
    ids=["with-tools", "without-tools"],
)
def test_a_reloaded_answer_lists_the_steps_it_streamed(
    page: "Page", server_url: str, problems: list[str], question: str, first_step: str
) -> None:
    page.goto(server_url)
    chat_id = _new_chat(page)
    page.locator("#composer textarea").fill(question)
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    live = _steps(answer)
    assert live[0] == first_step
    assert live[-1] == "respond: builtin/offline"
    summary = answer.locator(".steps summary").text_content()

    page.reload()
    page.locator(f'#chat-list [data-chat-id="{chat_id}"]').click()
    reloaded = page.locator("#messages .message.assistant").last
    expect(reloaded).to_have_attribute("data-status", "complete", timeout=WAIT)
    assert _steps(reloaded) == live
    expect(reloaded.locator(".steps summary")).to_have_text(summary)
    assert problems == []
