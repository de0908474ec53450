"""Managing chats and answers in the page, in headless Chromium: rename and delete a
chat, stop an answer, and a dropped stream that reconnects."""

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.processes import Chatorch, chatorch, fake_openai
from tests.e2e.test_browser import WAIT, _ask, _current_chat, _new_chat, _open_chat, problems

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI) without Playwright
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page, Response, Route

pytestmark = pytest.mark.browser
__all__ = ["problems"]  # the fixture, shared with test_browser.py


def test_a_chat_is_renamed_and_deleted_from_the_list(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    page.goto(server_url)
    _new_chat(page)
    _ask(page, "what is 6*7?")
    chat_id = _current_chat(page)
    row = page.locator(f'#chat-list li[data-row="{chat_id}"]')
    expect(row.locator(".chat-name")).to_have_text("what is 6*7?")

    with page.expect_request(lambda r: r.method == "PATCH", timeout=WAIT) as patched:
        row.get_by_role("button", name="Rename what is 6*7?").click()
        title = row.get_by_role("textbox", name="Chat title")
        expect(title).to_be_focused()
        expect(title).to_have_value("what is 6*7?")
        title.fill("Sums <for> Ada")
        title.press("Enter")
    assert patched.value.url.endswith(f"/v1/chats/{chat_id}")
    assert patched.value.post_data_json == {"title": "Sums <for> Ada"}
    expect(row.locator(".chat-name")).to_have_text("Sums <for> Ada", timeout=WAIT)
    expect(page.locator("#chat-title")).to_have_text("Sums <for> Ada")

    # Escape leaves the title as it was, and asks nothing.
    row.get_by_role("button", name="Rename Sums <for> Ada").click()
    row.get_by_role("textbox", name="Chat title").fill("never saved")
    row.get_by_role("textbox", name="Chat title").press("Escape")
    expect(row.locator(".chat-name")).to_have_text("Sums <for> Ada")

    page.reload()
    _open_chat(page, chat_id)
    expect(page.locator("#chat-title")).to_have_text("Sums <for> Ada")

    # Delete asks first; "Cancel" keeps the chat.
    asked: list[str] = []

    def answer_with(accept: bool) -> "Callable[[Dialog], None]":
        def handle(dialog: "Dialog") -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    delete = row.get_by_role("button", name="Delete Sums <for> Ada")
    page.once("dialog", answer_with(False))
    delete.click()
    expect(row).to_have_count(1)
    assert asked == ["Delete “Sums <for> Ada” and all its messages? This cannot be undone."]

    page.once("dialog", answer_with(True))
    with page.expect_request(lambda r: r.method == "DELETE", timeout=WAIT) as deleted:
        delete.click()
    assert deleted.value.url.endswith(f"/v1/chats/{chat_id}")
    expect(row).to_have_count(0, timeout=WAIT)
    expect(page.locator("#chat-title")).to_have_text("New chat")  # the open chat went
    expect(page.locator("#messages .message")).to_have_count(0)
    assert page.request.get(f"{server_url}/v1/chats/{chat_id}").status == 404
    page.reload()
    expect(page.locator("#new-chat")).to_be_enabled()
    expect(page.locator(f'#chat-list [data-chat-id="{chat_id}"]')).to_have_count(0)
    assert problems == []


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chatorch]:
    """chatorch answering with the fake OpenAI model that sends a token every 150 ms."""
    with (
        fake_openai() as upstream,
        chatorch(
            tmp_path_factory.mktemp("slow"),
            llm="openai:fake-slow-150",
            openai_base_url=upstream,
            openai_api_key="sk-fake",
        ) as server,
    ):
        yield server


def test_stop_cancels_the_answer_which_ends_marked_stopped(
    page: "Page", slow_server: Chatorch, problems: list[str]
) -> None:
    page.goto(slow_server.url)
    _new_chat(page)
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_hidden()
    page.locator("#composer textarea").fill("hello")
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    content = answer.locator(".content")
    expect(content).to_contain_text("tok2", timeout=WAIT)
    expect(stop).to_be_visible()

    def is_cancel(response: "Response") -> bool:
        return response.request.method == "POST" and response.url.endswith("/cancel")

    with page.expect_response(is_cancel, timeout=WAIT) as cancelled:
        stop.click()
    assert cancelled.value.status == 202
    response_id = answer.get_attribute("data-response-id")
    assert cancelled.value.url.endswith(f"/responses/{response_id}/cancel")
    expect(answer).to_have_attribute("data-status", "stopped", timeout=WAIT)
    expect(answer.locator(".status")).to_have_text("stopped")
    expect(answer.locator(".note")).to_have_text("Stopped before the end.")
    expect(stop).to_be_hidden()
    shown = content.text_content() or ""
    assert "tok49" not in shown  # 50 tokens would take 7.5 s
    expect(page.locator("#messages .message.user")).to_have_attribute("data-status", "complete")

    chat_id = _current_chat(page)
    page.reload()
    _open_chat(page, chat_id)
    stored = page.locator("#messages .message.assistant").last
    expect(stored).to_have_attribute("data-status", "stopped", timeout=WAIT)
    expect(stored.locator(".status")).to_have_text("stopped")
    assert (stored.locator(".content").text_content() or "").strip() == shown.strip()
    assert problems == []


def test_a_dropped_stream_shows_reconnecting_and_resumes_where_it_stopped(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    # The first connection delivers the answer up to its first piece of text, then
    # drops; the next attempt fails outright; the third reaches the server, which
    # carries on after the Last-Event-ID the browser sends (Chromium adds that header
    # below what Playwright sees, so the proof is the answer: nothing in it twice).
    seen: list[str] = []

    def flaky(route: "Route") -> None:
        seen.append(route.request.url)
        if len(seen) == 1:
            whole = route.fetch().text()  # the scoped stream ends with the answer
            blocks = [b for b in whole.split("\n\n") if b.strip()]
            first = next(i for i, b in enumerate(blocks) if "\nevent: token\n" in b)
            route.fulfill(
                status=200,
                content_type="text/event-stream",
                body="\n\n".join(blocks[: first + 1]) + "\n\n",
            )
        elif len(seen) == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/chats/*/events?*", flaky)
    page.goto(server_url)
    _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    page.locator("#send").click()
    banner = page.locator("#connection")
    expect(banner).to_be_visible(timeout=WAIT)
    expect(banner).to_have_text("Reconnecting…")
    expect(banner).to_have_attribute("role", "status")
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(banner).to_be_hidden()
    expect(answer.locator(".content")).to_have_text("12*7 = 84.")  # no text twice
    steps = [s.strip() for s in answer.locator(".steps .step").all_text_contents()]
    assert steps[0] == "think: tools calculator"
    assert steps[-1] == "respond: builtin/offline"
    assert len(steps) == 4  # think, act, think, respond: each once
    assert steps[1].count("calculator(") == 1
    assert len(seen) == 3
    assert [p for p in problems if "ERR_CONNECTION_RESET" not in p] == []  # the abort
