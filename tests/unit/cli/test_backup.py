"""``chatorch backup`` and ``restore`` on the command line: their help, and one plain line
when they cannot go on (the round trip itself is in tests/e2e/test_backup.py)."""

import gzip
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatorch.cli import app


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATORCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/db/chatorch.db")
    monkeypatch.setenv("CHATORCH_BLOB_URL", f"file:{tmp_path}/files")
    return tmp_path


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help_names_the_file_argument(command: str) -> None:
    shown = CliRunner().invoke(app, [command, "-h"], terminal_width=100)
    assert shown.exit_code == 0
    assert f"Usage: chatorch {command} [OPTIONS] {{file}}" in shown.output
    assert "the backup's path (gzip'd JSON Lines)" in shown.output


def test_an_empty_store_backs_up_and_restores(settings: Path) -> None:
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    made = CliRunner().invoke(app, ["backup", "empty.jsonl.gz"])
    assert made.exit_code == 0, made.output
    assert made.output == "backed up 0 rows and the bytes of 0 files to empty.jsonl.gz\n"
    with gzip.open(settings / "empty.jsonl.gz") as stream:
        assert len(stream.read().splitlines()) == 2  # the header and the trailer
    again = CliRunner().invoke(app, ["restore", "empty.jsonl.gz"])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("restored 0 rows (0 already there")


def test_a_missing_file_is_one_line(settings: Path) -> None:
    done = CliRunner().invoke(app, ["restore", "nowhere.jsonl.gz"])
    assert done.exit_code == 1
    assert done.output == "chatorch: cannot read nowhere.jsonl.gz: No such file or directory\n"
    assert not (settings / "db").exists()  # nothing was migrated either


def test_no_database_is_said_and_none_is_made(settings: Path) -> None:
    done = CliRunner().invoke(app, ["backup", "out.jsonl.gz"])
    assert done.exit_code == 1
    assert done.output == f"chatorch: there is no SQLite database at {settings}/db/chatorch.db\n"
    assert not (settings / "db").exists()
    assert not (settings / "out.jsonl.gz").exists()


def test_a_database_not_migrated_says_what_to_run(settings: Path) -> None:
    (settings / "db").mkdir()
    sqlite3.connect(settings / "db" / "chatorch.db").close()
    done = CliRunner().invoke(app, ["backup", "out.jsonl.gz"])
    assert done.exit_code == 1
    assert "revision none, this chatorch at" in done.output
    assert "run `chatorch migrate` first" in done.output
    assert not (settings / "out.jsonl.gz").exists()
    assert list(settings.glob(".out*")) == []  # the partial file is gone too
