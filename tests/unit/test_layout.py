"""The tree stays readable: no module under src/ grows past what one sitting can read."""

from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "chatorch"
MAX_LINES = 500  # talk it over past this (docs/architecture.md)


def test_the_tree_is_found() -> None:
    assert len(list(SRC.rglob("*.py"))) > 50


@pytest.mark.parametrize(
    "module", sorted(SRC.rglob("*.py")), ids=lambda path: str(path.relative_to(SRC))
)
def test_no_module_is_over_the_limit(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(SRC)} has {lines} lines; split it by idea"
