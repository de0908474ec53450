"""The docs keep up with the code: every setting is documented, every relative link resolves."""

import re
from pathlib import Path

import pytest

from chatorch.settings import Settings

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
MARKDOWN = [README, *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


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
