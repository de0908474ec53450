"""Signing in to the web page when the server requires API keys, in headless Chromium."""

import os
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.conftest import remember
from tests.e2e.processes import CHATORCH, Chatorch, chatorch
from tests.e2e.test_browser import WAIT, _current_chat, _is_message_post, _new_chat, problems

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI) without Playwright
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
__all__ = ["problems"]  # the fixture, shared with test_browser.py

KEY_STORE = "chatorch.apiKey"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chatorch, str]]:
    """A ``chatorch serve`` with CHATORCH_AUTH_REQUIRED=true, and a user's API key."""
    workdir = tmp_path_factory.mktemp("keyed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
    created = subprocess.run(
        [str(CHATORCH), "keys", "create", "--user", "ada", "--name", "browser"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = remember(created.stdout.strip().splitlines()[-1])
    assert key.startswith("chk_")
    with chatorch(workdir, auth_required="true") as server:
        yield server, key
    assert key not in server.log.read_text()  # not even as a stream's access_token


def _no_401(problems: list[str]) -> list[str]:
    # A refused call shows as a console error of the failed fetch; nothing else may.
    return [p for p in problems if "status of 401" not in p]


def test_a_key_is_asked_for_kept_in_the_tab_sent_and_signed_out(
    page: "Page", keyed: tuple[Chatorch, str], problems: list[str]
) -> None:
    server, key = keyed
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog).to_be_visible(timeout=WAIT)
    field = dialog.get_by_label("API key")
    expect(field).to_be_focused()

    field.fill("chk_not-a-real-key")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("alert")).to_contain_text("The API key was refused", timeout=WAIT)
    assert page.evaluate(f"() => sessionStorage.getItem('{KEY_STORE}')") is None

    field.fill(key)
    field.press("Enter")
    expect(dialog).to_be_hidden(timeout=WAIT)
    assert page.evaluate(f"() => sessionStorage.getItem('{KEY_STORE}')") == key
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()

    _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    with (
        page.expect_request(_is_message_post, timeout=WAIT) as posted,
        page.expect_request(lambda r: "/events?" in r.url, timeout=WAIT) as streamed,
    ):
        page.locator("#send").click()
    assert posted.value.headers["authorization"] == f"Bearer {key}"
    assert f"access_token={key}" in streamed.value.url  # EventSource cannot set headers
    assert "authorization" not in streamed.value.headers
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_contain_text("84")
    chat_id = _current_chat(page)

    page.reload()  # the key lives as long as the tab
    expect(page.locator(f'#chat-list [data-chat-id="{chat_id}"]')).to_be_visible(timeout=WAIT)
    expect(dialog).to_be_hidden()

    sign_out.click()
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(dialog.locator("#sign-in-error")).to_be_empty()  # signing out is no error
    assert page.evaluate(f"() => sessionStorage.getItem('{KEY_STORE}')") is None
    expect(page.locator("#chat-list .chat-item")).to_have_count(0)
    assert _no_401(problems) == []


def test_a_key_refused_mid_session_brings_the_sign_in_back(
    page: "Page", keyed: tuple[Chatorch, str], problems: list[str]
) -> None:
    server, key = keyed
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Sign in")
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden(timeout=WAIT)

    # The key stops working (revoked, expired: the server refuses it from now on).
    page.evaluate(f"() => sessionStorage.setItem('{KEY_STORE}', 'chk_revoked-meanwhile')")
    box = page.locator("#composer textarea")
    box.fill("what is 2+3?")
    page.locator("#send").click()
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(dialog.get_by_role("alert")).to_contain_text("The API key was refused")
    expect(page.locator("#error")).to_be_hidden()  # the sign-in says it; no dead end
    expect(box).to_have_value("what is 2+3?")  # nothing typed is lost

    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_contain_text("5")
    assert _no_401(problems) == []


def test_without_keys_required_the_page_asks_for_none(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    page.goto(server_url)
    expect(page.locator("#new-chat")).to_be_enabled()
    expect(page.get_by_role("dialog", name="Sign in")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert problems == []
