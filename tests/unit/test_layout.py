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


TESTS = Path(__file__).parents[1]
PORTS = sorted(p.stem for p in (SRC / "ports").glob("*.py") if p.stem != "__init__")


def test_the_ports_are_found() -> None:
    assert {"store", "bus", "llm"} <= set(PORTS)


@pytest.mark.parametrize("port", PORTS)
def test_every_port_has_a_contract_suite(port: str) -> None:
    assert (TESTS / "contract" / f"test_{port}.py").exists(), f"no contract suite for {port}"


@pytest.mark.parametrize(
    "folder",
    sorted(p for p in (TESTS / "unit").rglob("*") if p.is_dir() and p.name != "__pycache__"),
    ids=lambda path: str(path.relative_to(TESTS / "unit")),
)
def test_unit_tests_mirror_the_source_tree(folder: Path) -> None:
    mirrored = SRC / folder.relative_to(TESTS / "unit")
    assert mirrored.is_dir(), f"tests/unit/{folder.relative_to(TESTS / 'unit')} mirrors nothing"
