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


def _new_chat(page: "Page") -> None:
    """Click "New chat": an empty chat, made on the server only with its first message."""
    page.locator("#new-chat").click()
    expect(page.locator("#chat-list [aria-current]")).to_have_count(0)
    expect(page.locator("#chat-title")).to_have_text("New chat")


def _current_chat(page: "Page") -> str:
    """The id of the chat open in the page (it exists once a message was sent)."""
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
    chat_posts: list[str] = []
    page.on(
        "request",
        lambda r: (
            chat_posts.append(r.url) if r.method == "POST" and r.url.endswith("/v1/chats") else None
        ),
    )
    page.goto(server_url)
    _new_chat(page)
    expect(page.locator("#messages .message")).to_have_count(0)
    assert chat_posts == []  # an empty new chat is not made on the server

    box = page.locator("#composer textarea")
    box.fill("what is 12*7?")
    with page.expect_request(_is_message_post, timeout=WAIT) as posted:
        box.press("Enter")
    assert UUID.match(posted.value.headers.get("idempotency-key", ""))
    chat_id = _current_chat(page)
    assert len(chat_posts) == 1

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
    _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    page.locator("#send").click()
    chat_id = _current_chat(page)
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
    chats_before = page.request.get(f"{server_url}/v1/chats?limit=100").json()
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
    # The chat made for the refused first message went with it: no empty chat is left.
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(page.locator("#chat-list [aria-current]")).to_have_count(0)
    assert page.request.get(f"{server_url}/v1/chats?limit=100").json() == chats_before
    expect(box).to_have_value("x" * (max_content_chars + 1))  # kept, to shorten and resend
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
    _new_chat(page)
    page.locator("#composer textarea").fill(question)
    page.locator("#send").click()
    chat_id = _current_chat(page)
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


# ------------------------------------------------------------------ files, search, export

MANUAL = b"""# Printer manual

## Setup

Unpack the printer and connect the power cable. Press the power button for two seconds.

## Errors

Error ERR-4471 means the toner cartridge is empty. Replace the cartridge and close the lid.

Error ERR-4417 means the paper tray is open.
"""
ERR_ANSWER = '"Error ERR-4471 means the toner cartridge is empty." [1]'


def _ask(page: "Page", question: str) -> "Locator":
    """Send ``question`` in the open chat; the answer, once complete."""
    page.locator("#composer textarea").fill(question)
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    return answer


def _open_chat(page: "Page", chat_id: str) -> None:
    page.locator(f'#chat-list [data-chat-id="{chat_id}"]').click()
    expect(page.locator("#chat-list [aria-current]")).to_have_attribute("data-chat-id", chat_id)


def test_an_attached_file_is_quoted_and_cited_also_after_a_reload(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    page.goto(server_url)
    _new_chat(page)

    with (
        page.expect_file_chooser() as chooser,
        page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/v1/files")) as upload,
    ):
        page.get_by_role("button", name="Attach a file").click()
        chooser.value.set_files(
            {"name": "manual.md", "mimeType": "text/markdown", "buffer": MANUAL}
        )
    assert upload.value.headers["content-type"].startswith("multipart/form-data; boundary=")
    chip = page.locator("#attachments .chip")
    expect(chip).to_have_count(1)
    expect(chip.locator(".chip-name")).to_have_text("manual.md")
    expect(chip).to_have_attribute("data-status", "ready", timeout=WAIT)
    expect(chip.locator(".chip-status")).to_have_text("ready")
    file_id = chip.get_attribute("data-file-id")
    assert file_id is not None
    assert UUID.match(file_id)

    box = page.locator("#composer textarea")
    box.fill("What does ERR-4471 mean?")
    with page.expect_request(_is_message_post, timeout=WAIT) as posted:
        box.press("Enter")
    assert posted.value.post_data_json == {
        "content": "What does ERR-4471 mean?",
        "file_ids": [file_id],
    }
    chat_id = _current_chat(page)
    # The file is the chat's now: the composer lets it go.
    expect(chip).to_have_count(0)
    expect(page.locator("#attachments")).to_be_hidden()

    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    content = answer.locator(".content")
    expect(content).to_have_text(re.compile(r'^From manual\.md, part \d+: "'))
    expect(content).to_contain_text(ERR_ANSWER)
    part = re.search(r"part (\d+)", content.text_content() or "")
    assert part is not None
    sources = answer.locator(".sources")
    expect(sources).to_be_visible(timeout=WAIT)
    expect(sources).to_contain_text("Sources:")
    # The passage the answer quotes as [1] is the first source, named the same way.
    expect(sources.locator(".source").first).to_have_text(f"[1] manual.md · part {part[1]}")
    expect(sources.locator(".source").first).to_have_attribute("data-file-id", file_id)
    live = sources.locator(".source").all_text_contents()
    assert len(live) == len(set(live))  # each passage once

    page.reload()
    _open_chat(page, chat_id)
    reloaded = page.locator("#messages .message.assistant").last
    expect(reloaded.locator(".content")).to_contain_text(ERR_ANSWER, timeout=WAIT)
    expect(reloaded.locator(".sources")).to_be_visible()
    assert reloaded.locator(".sources .source").all_text_contents() == live
    # An answer that cited nothing says nothing about sources.
    expect(page.locator("#messages .message.user .sources")).to_have_count(0)
    assert problems == []


def test_search_marks_the_words_and_opens_the_chat_at_the_message(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    page.goto(server_url)
    _new_chat(page)
    _ask(page, "Is the zanzibar ferry <b>late</b> today?")
    ferry_chat = _current_chat(page)
    question = page.locator("#messages .message.user").last
    message_id = question.get_attribute("data-message-id")
    assert message_id is not None
    assert UUID.match(message_id)
    expect(page.locator("#chat-title")).to_have_text("Is the zanzibar ferry <b>late</b> today?")
    _new_chat(page)
    _ask(page, "what is 2+3?")  # now another chat is open

    search = page.get_by_role("searchbox", name="Search your messages")
    with page.expect_request(lambda r: "/v1/search?" in r.url, timeout=WAIT) as searched:
        search.press_sequentially("Zanzibar")
    # typed letter by letter, asked once: the box waits for a pause
    assert searched.value.url.endswith("/v1/search?q=Zanzibar&limit=20")
    expect(page.locator("#chat-nav")).to_be_hidden()
    result = page.locator(f'#search-messages .result[data-message-id="{message_id}"]')
    expect(result).to_have_count(1, timeout=WAIT)
    expect(result.locator(".chat-name")).to_have_text("Is the zanzibar ferry <b>late</b> today?")
    snippet = result.locator(".snippet")
    expect(snippet.locator("mark")).to_have_text(["zanzibar"])
    expect(snippet).to_have_text("Is the zanzibar ferry <b>late</b> today?")  # text, not HTML
    expect(snippet.locator("b")).to_have_count(0)
    expect(page.locator("#search-status")).to_contain_text("1 message found")
    # The chat's title holds the word too.
    expect(page.locator(f'#search-chats [data-chat-id="{ferry_chat}"]')).to_be_visible()

    result.click()
    expect(page.locator("#chat-title")).to_have_text("Is the zanzibar ferry <b>late</b> today?")
    expect(page.locator("#chat-list [aria-current]")).to_have_attribute("data-chat-id", ferry_chat)
    target = page.locator(f'#messages .message[data-message-id="{message_id}"]')
    expect(target).to_have_class(re.compile(r"\bhighlight\b"))
    expect(target).to_be_focused()
    expect(target).to_be_in_viewport()
    expect(page.locator("#messages .message.highlight")).to_have_count(1)

    search.fill("nothingmatchesthisword")
    expect(page.locator("#search-status")).to_have_text(
        "Nothing found for “nothingmatchesthisword”.", timeout=WAIT
    )
    expect(page.locator("#search-messages .result")).to_have_count(0)
    search.press("Escape")  # back to the chat list
    expect(search).to_have_value("")
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#chat-nav")).to_be_visible()
    assert problems == []


def test_files_the_server_refuses_or_cannot_read_say_why(
    page: "Page", server_url: str, tmp_path: Path, problems: list[str]
) -> None:
    from chatorch.settings import Settings  # the server runs with the default limit

    max_file_bytes = Settings.model_fields["max_file_bytes"].default
    page.goto(server_url)
    _new_chat(page)
    files, error = page.locator("#file-input"), page.locator("#error")

    files.set_input_files(
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00\x03"}
    )
    expect(error).to_be_visible(timeout=WAIT)
    expect(error).to_contain_text("Cannot attach setup.exe: files named *.exe cannot be read;")
    expect(error).to_contain_text("(by extension: .txt, .text, .md, .markdown, .html, .htm, .pdf)")
    expect(page.locator("#attachments .chip")).to_have_count(0)
    page.locator("#error-dismiss").click()

    big = tmp_path / "big.txt"  # a path: Chromium reads it, Playwright carries no bytes
    big.write_bytes(b"a" * (max_file_bytes + 1))
    files.set_input_files(big)
    expect(error).to_be_visible(timeout=WAIT)
    expect(error).to_contain_text(
        f"Cannot attach big.txt: the file is over the limit of {max_file_bytes} bytes"
    )
    expect(page.locator("#attachments .chip")).to_have_count(0)

    # Accepted, then unreadable: the chip keeps the reason, and the file stays out of
    # the message until it is removed.
    files.set_input_files(
        {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 not really"}
    )
    chip = page.locator("#attachments .chip")
    expect(chip).to_have_attribute("data-status", "failed", timeout=WAIT)
    expect(chip.locator(".chip-status")).to_contain_text("failed: the PDF could not be read")
    with page.expect_request(_is_message_post, timeout=WAIT) as posted:
        _ask(page, "hello")
    assert posted.value.post_data_json == {"content": "hello"}
    expect(chip).to_have_count(1)
    chip.get_by_role("button", name="Remove broken.pdf").click()
    expect(chip).to_have_count(0)
    expect(page.locator("#attachments")).to_be_hidden()
    assert [p for p in problems if "413" not in p and "415" not in p] == []


def test_export_downloads_the_open_chat_as_markdown(
    page: "Page", server_url: str, tmp_path: Path, problems: list[str]
) -> None:
    page.goto(server_url)
    export = page.get_by_role("button", name="Export this chat as Markdown")
    expect(export).to_be_hidden()  # no chat open yet
    _new_chat(page)
    _ask(page, "what is 12*7?")
    with page.expect_download(timeout=WAIT) as downloading:
        export.click()
    download = downloading.value
    # named as Content-Disposition's filename* says: the title made safe, and the day
    assert re.fullmatch(r"what is 12 7 \d{4}-\d{2}-\d{2}\.md", download.suggested_filename)
    saved = tmp_path / "export.md"
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# what is 12\\*7?\n")  # the title, as Markdown text
    assert "\n## User · " in text
    assert "\n## Assistant · " in text
    assert "\n12*7 = 84.\n" in text
    assert problems == []
