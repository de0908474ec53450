"""Single sign-on on the web page (CHATORCH_OIDC_*), in headless Chromium, through a fake
identity provider that runs the authorization code flow with PKCE for real."""

import base64
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import remember
from tests.e2e.conftest import _require_chromium
from tests.e2e.processes import Chatorch, chatorch
from tests.e2e.test_browser import WAIT, _current_chat, _is_message_post, _new_chat, problems
from tests.fixtures.fake_oidc import FakeOidc, fake_oidc_in_thread

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI) without Playwright
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser
__all__ = ["problems"]  # the fixture, shared with test_browser.py

CLIENT = "chatorch-web"
TOKEN_STORE = "chatorch.idToken"
PENDING_STORE = "chatorch.sso"


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chatorch, FakeOidc]]:
    """A ``chatorch serve`` that requires sign-in, with single sign-on at the fake provider."""
    _require_chromium()
    with fake_oidc_in_thread() as idp:
        settings = {"auth_required": "true", "oidc_issuer": idp.url, "oidc_client_id": CLIENT}
        with chatorch(tmp_path_factory.mktemp("sso"), **settings) as server:
            idp.register(CLIENT, f"{server.url}/")  # the page's own URL, as documented
            yield server, idp
    codes = [remember(form["code"]) for form in idp.exchanges if "code" in form]
    log = server.log.read_text()
    assert not [code for code in codes if code in log]


def _no_401(problems: list[str]) -> list[str]:
    # A refused call shows as a console error of the failed fetch; nothing else may.
    return [p for p in problems if "status of 401" not in p]


def _stored(page: "Page", name: str) -> str | None:
    value: str | None = page.evaluate(f"() => sessionStorage.getItem('{name}')")
    return value


def _sign_in(page: "Page", server: Chatorch) -> "Locator":
    """Open the page, sign in with SSO; the sign-in dialog (hidden by then)."""
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Sign in")
    dialog.get_by_role("button", name="Sign in with SSO").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT)
    return dialog


def test_sso_goes_through_the_provider_and_back_signed_in(
    page: "Page", sso: tuple[Chatorch, FakeOidc], problems: list[str]
) -> None:
    server, idp = sso
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog).to_be_visible(timeout=WAIT)
    button = dialog.get_by_role("button", name="Sign in with SSO")
    expect(button).to_be_focused()
    expect(dialog.get_by_label("API key")).to_be_visible()  # keys still work

    with page.expect_request(lambda r: r.url.startswith(f"{idp.url}/authorize")) as asked:
        button.click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(asked.value.url).query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT
    assert query["redirect_uri"] == f"{server.url}/"
    assert query["scope"] == "openid profile email"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 16

    # Back on the page: the code is traded with its verifier, and gone from the URL.
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible(timeout=WAIT)
    expect(page).to_have_url(f"{server.url}/")
    (exchange,) = idp.exchanges[-1:]
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert exchange["redirect_uri"] == f"{server.url}/"
    token = remember(_stored(page, TOKEN_STORE) or "")
    assert token.count(".") == 2  # the ID token, a JWT
    assert _stored(page, PENDING_STORE) is None  # the verifier is not kept

    _new_chat(page)
    page.locator("#composer textarea").fill("what is 12*7?")
    with page.expect_request(_is_message_post, timeout=WAIT) as posted:
        page.locator("#send").click()
    assert posted.value.headers["authorization"] == f"Bearer {token}"
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_contain_text("84")
    chat_id = _current_chat(page)
    assert "code=" not in page.url
    assert "state=" not in page.url

    page.reload()  # the token lives as long as the tab
    expect(page.locator(f'#chat-list [data-chat-id="{chat_id}"]')).to_be_visible(timeout=WAIT)
    expect(dialog).to_be_hidden()

    sign_out.click()
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(dialog.locator("#sign-in-error")).to_be_empty()  # signing out is no error
    assert _stored(page, TOKEN_STORE) is None
    expect(page.locator("#chat-list .chat-item")).to_have_count(0)
    assert token not in server.log.read_text()  # not even as a stream's access_token
    assert _no_401(problems) == []


def test_a_refusal_by_the_provider_is_explained_and_the_sign_in_offered_again(
    page: "Page", sso: tuple[Chatorch, FakeOidc], problems: list[str]
) -> None:
    server, idp = sso
    idp.refuse_next("access_denied")
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Sign in")
    dialog.get_by_role("button", name="Sign in with SSO").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("did not sign you in", timeout=WAIT)
    expect(alert).to_contain_text("access_denied")
    expect(page).to_have_url(f"{server.url}/")  # no error left in the address
    assert _stored(page, TOKEN_STORE) is None

    dialog.get_by_role("button", name="Sign in with SSO").click()  # no dead end
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT)
    assert _no_401(problems) == []


def test_a_return_this_tab_did_not_start_is_refused(
    page: "Page", sso: tuple[Chatorch, FakeOidc], problems: list[str]
) -> None:
    server, idp = sso
    page.goto(f"{server.url}/?code=stolen-code&state=forged")
    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog.get_by_role("alert")).to_contain_text("could not be finished", timeout=WAIT)
    expect(page).to_have_url(f"{server.url}/")
    assert not [form for form in idp.exchanges if form.get("code") == "stolen-code"]
    assert _stored(page, TOKEN_STORE) is None
    expect(dialog.get_by_role("button", name="Sign in with SSO")).to_be_visible()
    assert _no_401(problems) == []


def test_an_expired_token_brings_the_sign_in_back_without_losing_the_message(
    page: "Page", sso: tuple[Chatorch, FakeOidc], problems: list[str]
) -> None:
    server, idp = sso
    dialog = _sign_in(page, server)
    expired = remember(idp.id_token(CLIENT, lifetime=-120))
    page.evaluate(f"() => sessionStorage.setItem('{TOKEN_STORE}', '{expired}')")
    box = page.locator("#composer textarea")
    box.fill("what is 2+3?")
    page.locator("#send").click()
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(dialog.get_by_role("alert")).to_contain_text("token expired")
    expect(page.locator("#error")).to_be_hidden()
    assert _stored(page, TOKEN_STORE) is None

    dialog.get_by_role("button", name="Sign in with SSO").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT)
    expect(box).to_have_value("what is 2+3?")  # kept through the round trip
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    expect(answer.locator(".content")).to_contain_text("5")
    assert _no_401(problems) == []
