"""Answers as Markdown in headless Chromium: rendered, sanitized, and under the strict CSP."""

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_browser import WAIT, _current_chat, _new_chat, _open_chat, problems

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI) without Playwright
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page, Route

pytestmark = pytest.mark.browser
__all__ = ["problems"]  # the fixture, shared with test_browser.py

PAYLOAD = (
    b"The launch code ZQX-991 is <img src=x onerror=alert(1)> and"
    b" <script>alert(2)</script> here, see [x](javascript:alert(3)).\n"
)


def _attach(page: "Page", name: str, data: bytes) -> None:
    page.locator("#file-input").set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": data}
    )
    expect(page.locator("#attachments .chip")).to_have_attribute("data-status", "ready")


def test_html_in_an_answer_shows_as_text_and_runs_nothing(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    # The offline model quotes the file's sentence: the real app answers with the HTML.
    dialogs: list[str] = []

    def on_dialog(dialog: "Dialog") -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(server_url)
    _new_chat(page)
    _attach(page, "payload.txt", PAYLOAD)
    page.locator("#composer textarea").fill("What is the launch code ZQX-991?")
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    chat_id = _current_chat(page)

    def shown_as_text() -> None:
        content = page.locator("#messages .message.assistant .content").last
        expect(content).to_contain_text("<img src=x onerror=alert(1)>")
        expect(content).to_contain_text("<script>alert(2)</script>")
        expect(page.locator("#messages img")).to_have_count(0)
        expect(page.locator("#messages script")).to_have_count(0)
        expect(page.locator("#messages [onerror]")).to_have_count(0)
        # markdown-it refuses the javascript: link; the text stays, no link is made
        expect(content.locator("a")).to_have_count(0)
        expect(content).to_contain_text("[x](javascript:alert(3))")

    shown_as_text()
    page.reload()  # the stored answer goes through the same rendering
    _open_chat(page, chat_id)
    expect(page.locator("#messages .message.assistant")).to_have_count(1, timeout=WAIT)
    shown_as_text()
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert dialogs == []
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert problems == []


ANSWER = """## Plan

Use **bold** and *emphasis*, `inline code`, and [the docs](https://example.com/docs).

1. first
2. second

- a
- b

| Name | Count |
|:-----|------:|
| apples | 3 |
| pears | 12 |

```python
def add(a, b):
    return a + b
```

![a tracking pixel](https://example.com/pixel.png)

<b>raw html</b>
"""


def _sse(kind: str, seq: int, **data: object) -> str:
    return f"id: r:{seq}\nevent: {kind}\ndata: {json.dumps({'seq': seq, **data})}\n\n"


def test_markdown_answers_render_tables_lists_links_and_code_with_copy(
    page: "Page", server_url: str, tmp_path: Path, problems: list[str]
) -> None:
    # A canned stream, in small pieces as a model sends them: the page renders as it goes.
    pieces = [ANSWER[i : i + 9] for i in range(0, len(ANSWER), 9)]
    stream = "retry: 1000\n\n" + "".join(_sse("token", i, text=p) for i, p in enumerate(pieces))
    stream += _sse("done", len(pieces), message_id="00000000-0000-4000-8000-000000000000")

    def canned(route: "Route") -> None:
        route.fulfill(status=200, content_type="text/event-stream", body=stream)

    page.route("**/v1/chats/*/events?*", canned)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)
    page.goto(server_url)
    _new_chat(page)
    page.locator("#composer textarea").fill("**not bold**: a question stays <i>text</i>")
    page.locator("#send").click()
    answer = page.locator("#messages .message.assistant").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=WAIT)
    content = answer.locator(".content")

    expect(content.locator("h2")).to_have_text("Plan")
    expect(content.locator("strong")).to_have_text("bold")
    expect(content.locator("em")).to_have_text("emphasis")
    expect(content.locator("ol > li")).to_have_text(["first", "second"])
    expect(content.locator("ul > li")).to_have_text(["a", "b"])
    expect(content.locator("table th")).to_have_text(["Name", "Count"])
    expect(content.locator("table td")).to_have_text(["apples", "3", "pears", "12"])
    expect(content.locator("table td").nth(1)).to_have_class(re.compile(r"\balign-right\b"))
    expect(content.locator("[style]")).to_have_count(0)  # the CSP allows no inline style

    link = content.get_by_role("link", name="the docs")
    expect(link).to_have_attribute("href", "https://example.com/docs")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    # an image from elsewhere is a link to it, not a request the CSP would block
    expect(content.locator("img")).to_have_count(0)
    expect(content.get_by_role("link", name="a tracking pixel")).to_have_attribute(
        "href", "https://example.com/pixel.png"
    )
    expect(content).to_contain_text("<b>raw html</b>")
    expect(content.locator("b")).to_have_count(0)

    code = content.locator("pre code")
    expect(code).to_have_class(re.compile(r"\blanguage-python\b"))
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(content.locator(".code-lang")).to_have_text("python")
    expect(content.get_by_role("button", name="Copy", exact=True)).to_have_count(1)
    copy = content.locator("button.copy-code")
    copy.click()
    expect(copy).to_have_text("Copied")  # for two seconds, then "Copy" again
    assert page.evaluate("() => navigator.clipboard.readText()") == (
        "def add(a, b):\n    return a + b\n"
    )

    page.screenshot(path=tmp_path / "markdown.png", full_page=True)
    question = page.locator("#messages .message.user .content")
    expect(question).to_have_text("**not bold**: a question stays <i>text</i>")
    expect(question.locator("strong, i")).to_have_count(0)
    assert problems == []


def test_the_page_keeps_its_strict_csp_with_the_vendored_libraries(
    page: "Page", server_url: str, problems: list[str]
) -> None:
    response = page.goto(server_url)
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    # every script is a file of this server: no inline script, nothing from elsewhere
    expect(page.locator("script:not([src])")).to_have_count(0)
    sources = page.locator("script[src]").evaluate_all("(all) => all.map((s) => s.src)")
    assert sources
    assert all(src.startswith(server_url + "/static/") for src in sources)
    for path in (
        "vendor/markdown-it/markdown-it.esm.min.js",
        "vendor/dompurify/purify.es.js",
        "vendor/highlight.js/highlight.min.js",
    ):
        served = page.request.get(f"{server_url}/static/{path}")
        assert served.ok, path
        assert "javascript" in served.headers["content-type"], path
    expect(page.locator("#new-chat")).to_be_enabled()  # the modules loaded and ran
    assert page.evaluate("() => typeof window.markdownit") == "undefined"  # modules, no globals
    assert problems == []
