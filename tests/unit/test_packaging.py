"""What the wheel carries: every file the package reads at run time (the page and its
vendored libraries, the migrations) matches a package-data pattern, so an installed
chatorch has them too — the tests run from the source folder and would not notice."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "chatorch"


def _patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["chatorch"]
    return patterns


def test_every_file_of_the_page_and_the_migrations_is_packaged() -> None:
    patterns = _patterns()
    needed = [
        path.relative_to(PACKAGE).as_posix()
        for folder in ("web", "adapters/sql/migrations")
        for path in (PACKAGE / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py"
    ]
    missing = [
        name
        for name in needed
        # setuptools globs per folder: "*" never crosses a "/"
        if not any(
            fnmatch.fnmatch(name, pattern) and name.count("/") == pattern.count("/")
            for pattern in patterns
        )
    ]
    assert needed
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
