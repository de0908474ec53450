"""The docs keep up with the code: every setting and every route is documented, every
route in the docs is served, every relative link resolves."""

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import APIWebSocketRoute
from starlette.routing import Match

from chatorch.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
API = ROOT / "docs" / "api.md"
MARKDOWN = [README, *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# A row of api.md's route table: | `METHOD /path` | does | success |
_ROUTE_ROW = re.compile(rf"^\|\s*`({'|'.join(_METHODS)}) (/[^`\s]*)`\s*\|", re.MULTILINE)


def _setting_names() -> list[str]:
    return [f"CHATORCH_{name.upper()}" for name in Settings.model_fields]


def _links(text: str) -> list[str]:
    """Link targets outside code: fenced blocks and inline code are not links."""
    prose = _INLINE_CODE.sub("", _FENCE.sub("", text))
    return [match.group(1) for match in _LINK.finditer(prose)]


def test_settings_exist() -> None:
    assert len(_setting_names()) > 10


@pytest.mark.parametrize("document", [README, CONFIGURATION], ids=lambda p: p.name)
@pytest.mark.parametrize("setting", _setting_names())
def test_every_setting_is_documented(document: Path, setting: str) -> None:
    text = document.read_text(encoding="utf-8")
    assert re.search(rf"\b{setting}\b", text), f"{setting} is missing from {document.name}"


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(document: Path) -> None:
    broken = []
    for target in _links(document.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        path = target.split("#", 1)[0]
        if not (document.parent / path).exists():
            broken.append(target)
    assert not broken, f"{document.relative_to(ROOT)} links to missing files: {broken}"


def test_the_link_finder_sees_links_and_skips_code() -> None:
    text = (
        "See [api](docs/api.md#errors) and [site](https://example.org).\n"
        "```\n[not a link](nowhere.md)\n```\n"
        "Inline `[nor this](nowhere.md)` either.\n"
    )
    assert _links(text) == ["docs/api.md#errors", "https://example.org"]


def _route_table() -> set[tuple[str, str]]:
    """The method and path of each row of the route table in docs/api.md."""
    return set(_ROUTE_ROW.findall(API.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> "FastAPI":
    """The app as ``chatorch serve`` builds it; its routes and OpenAPI document need no
    lifespan, so nothing is connected."""
    from chatorch.api.app import create_app

    folder = tmp_path_factory.mktemp("docs")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{folder}/chatorch.db",
    )
    return create_app(settings)


def _operations(app: "FastAPI") -> list[tuple[str, str]]:
    """Every (method, path) of the app's OpenAPI document."""
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in _METHODS
    )


def _served(app: "FastAPI", method: str, path: str) -> bool:
    """Whether a request for ``method path`` reaches a route of ``app`` (a ``{param}``
    stands for any value); a ``GET`` may be a WebSocket's upgrade."""
    concrete = re.sub(r"\{[^}/]+\}", "x", path)
    scope = {"type": "http", "method": method, "path": concrete, "root_path": "", "headers": []}
    kinds = [scope, {**scope, "type": "websocket"}] if method == "GET" else [scope]
    return any(
        route.matches(kind)[0] is Match.FULL for route in app.router.routes for kind in kinds
    )


def _websockets(routes: "list[Any]", prefix: str = "") -> list[str]:
    """The paths of every WebSocket route, in included routers too."""
    found = []
    for route in routes:
        if isinstance(route, APIWebSocketRoute):
            found.append(prefix + route.path)
        elif (router := getattr(route, "original_router", None)) is not None:
            found += _websockets(router.routes, prefix + route.include_context.prefix)
    return found


def test_every_websocket_is_in_the_route_table(app: "FastAPI") -> None:
    sockets = _websockets(app.router.routes)
    assert sockets, "the app serves no WebSocket"
    missing = [path for path in sockets if ("GET", path) not in _route_table()]
    assert not missing, f"docs/api.md's route table lacks the WebSockets {missing}"


def test_the_route_table_is_found() -> None:
    assert ("POST", "/v1/chats/{chat_id}/messages") in _route_table()


def test_every_operation_of_the_openapi_document_is_in_the_route_table(app: "FastAPI") -> None:
    assert len(_operations(app)) > 10
    missing = [
        f"{method} {path}"
        for method, path in _operations(app)
        if (method, path) not in _route_table()
    ]
    assert not missing, f"docs/api.md's route table lacks {missing}"


def test_every_route_of_the_table_is_served(app: "FastAPI") -> None:
    unknown = [
        f"{method} {path}"
        for method, path in sorted(_route_table())
        if not _served(app, method, path)
    ]
    assert not unknown, f"docs/api.md lists routes the app does not serve: {unknown}"


def test_the_route_check_tells_served_from_unknown(app: "FastAPI") -> None:
    assert _served(app, "GET", "/v1/chats/{chat_id}")
    assert not _served(app, "PUT", "/v1/chats/{chat_id}")
    assert not _served(app, "GET", "/v1/nowhere")
