"""`chatorch backup` and `chatorch restore`: a team moves from SQLite to PostgreSQL (and
back) with two commands, keeping every id, key and file; a damaged backup is refused
with the line where it broke, and nothing is written."""

import asyncio
import gzip
import os
import queue
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.e2e.processes import CHATORCH, chatorch
from tests.services import fresh_database, require

NOTES = b"# Returns\n\nRefund code RX-2291 applies to orders within 30 days.\n"


def _run(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
    env |= {f"CHATORCH_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [str(CHATORCH), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


SECRET_KEYS = Fernet.generate_key().decode()  # the same on both sides, as a move needs


def _sqlite(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "database_url": f"sqlite+aiosqlite:///{folder}/chatorch.db",
        "blob_url": f"file:{folder}/files",
        "vector_url": f"local:{folder}/vectors",
        "auth_required": "true",
        "secret_keys": SECRET_KEYS,
        "telegram_api_url": "http://127.0.0.1:9",  # nothing here ever reaches Telegram
    }


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own (``fresh_database``, whose
    generator cannot outlive one ``asyncio.run``, kept open on a thread's loop)."""
    require("PostgreSQL", "127.0.0.1", 5432)
    ready: queue.Queue[str] = queue.Queue()
    done = threading.Event()

    async def hold() -> None:
        async with fresh_database() as url:
            ready.put(url)
            await asyncio.to_thread(done.wait)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        yield ready.get(timeout=30)
    finally:
        done.set()
        holder.join(timeout=30)


def _key(workdir: Path, user: str, role: str, settings: dict[str, str]) -> str:
    made = _run(workdir, "keys", "create", "--user", user, "--role", role, **settings)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def _wait(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout}s")


def _populate(url: str, admin: str, user: str) -> None:
    """What a team has after a while: chats with answers, a file, a prompt version."""
    as_admin = {"Authorization": f"Bearer {admin}"}
    as_user = {"Authorization": f"Bearer {user}"}
    for who, title in ((as_admin, "Refunds"), (as_user, "Shipping"), (as_user, "Ünïcode ✓")):
        chat = httpx.post(f"{url}/v1/chats", json={"title": title}, headers=who, timeout=5)
        assert chat.status_code == 201, chat.text
        said = {"content": f"What about {title} and parcels?"}
        posted = httpx.post(
            f"{url}/v1/chats/{chat.json()['id']}/messages", json=said, headers=who, timeout=5
        )
        assert posted.status_code == 202, posted.text
        chat_id = chat.json()["id"]
        _wait(lambda c=chat_id, w=who: len(_messages(url, c, w)) == 2, "an answer")
    files = {"file": ("returns.md", NOTES, "text/markdown")}
    uploaded = httpx.post(f"{url}/v1/files", files=files, headers=as_user, timeout=10)
    assert uploaded.status_code == 201, uploaded.text
    _wait(lambda: _file(url, uploaded.json()["id"], as_user)["status"] == "ready", "reading")
    bot = {
        "platform": "telegram",
        "name": "support",
        "credentials": {"token": "123456789:AAH-backup-test", "secret_token": "backup-secret_1"},
    }
    made = httpx.post(f"{url}/v1/bots", json=bot, headers=as_admin, timeout=5)
    assert made.status_code == 201, made.text
    template = {"template": "You are the refunds desk. Be brief."}
    put = httpx.put(f"{url}/v1/prompts/refunds", json=template, headers=as_admin, timeout=5)
    assert put.status_code in (200, 201), put.text


def _messages(url: str, chat_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    got = httpx.get(f"{url}/v1/chats/{chat_id}/messages", headers=headers, timeout=5)
    assert got.status_code == 200, got.text
    found: list[dict[str, Any]] = got.json()
    return found


def _file(url: str, file_id: str, headers: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(
        f"{url}/v1/files/{file_id}", headers=headers, timeout=5
    ).json()
    return found


def _everything(url: str, admin: str, user: str) -> dict[str, Any]:
    """All a user sees through the API, to compare before and after a move."""
    seen: dict[str, Any] = {}
    for name, key in (("admin", admin), ("user", user)):
        headers = {"Authorization": f"Bearer {key}"}
        chats = httpx.get(f"{url}/v1/chats", headers=headers, timeout=5)
        assert chats.status_code == 200, chats.text
        seen[f"{name}.chats"] = chats.json()
        for chat in chats.json():
            seen[f"{name}.{chat['id']}"] = _messages(url, chat["id"], headers)
        files = httpx.get(f"{url}/v1/files", headers=headers, timeout=5).json()
        seen[f"{name}.files"] = files  # ids, names, sizes, SHA-256s, times, ready
    as_admin = {"Authorization": f"Bearer {admin}"}
    prompt = httpx.get(f"{url}/v1/prompts/refunds", headers=as_admin, timeout=5)
    seen["prompt"] = prompt.json()
    seen["bots"] = httpx.get(f"{url}/v1/bots", headers=as_admin, timeout=5).json()
    assert len(seen["bots"]) == 1
    return seen


def _content(url: str, key: str, file_id: str) -> bytes:
    got = httpx.get(
        f"{url}/v1/files/{file_id}/content", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert got.status_code == 200, got.text
    return got.content


class TestMove:
    @pytest.mark.timeout(300)  # four servers and five commands
    def test_sqlite_to_postgresql_and_back_keeps_ids_keys_and_files(
        self, tmp_path: Path, postgres_url: str
    ) -> None:
        source = _sqlite(tmp_path / "source")
        admin = _key(tmp_path, "alice", "admin", source)
        user = _key(tmp_path, "bob", "user", source)
        with chatorch(tmp_path, **source) as server:
            _populate(server.url, admin, user)
            before = _everything(server.url, admin, user)
            # Backed up while it serves: one snapshot, whatever is written meanwhile.
            backup = tmp_path / "team.jsonl.gz"
            made = _run(tmp_path, "backup", str(backup), **source)
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith("backed up ")
        assert "the bytes of 1 files" in made.stdout

        target = {**_sqlite(tmp_path / "target"), "database_url": postgres_url}
        restored = _run(tmp_path, "restore", str(backup), **target)
        assert restored.returncode == 0, restored.stderr
        assert "(0 already there" in restored.stdout
        assert "1 files are read again" in restored.stdout
        again = _run(tmp_path, "restore", str(backup), **target)
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith("restored 0 rows (")  # all kept: nothing changed

        with chatorch(tmp_path, **target) as server:
            file_id = before["user.files"][0]["id"]
            headers = {"Authorization": f"Bearer {user}"}
            # The file is read again from its restored bytes, and indexed there.
            ready = _wait(lambda: _file(server.url, file_id, headers)["status"] == "ready", "ready")
            assert ready
            after = _everything(server.url, admin, user)
            assert after == before  # the same chats, messages, ids, times and prompt
            assert _content(server.url, user, file_id) == NOTES
            # Full-text search works on what was restored (PostgreSQL's own index).
            found = httpx.get(
                f"{server.url}/v1/search", params={"q": "parcels"}, headers=headers, timeout=5
            )
            assert found.status_code == 200, found.text
            assert len(found.json()["items"]) >= 2
            wrong = httpx.get(f"{server.url}/v1/chats", headers={"Authorization": "Bearer no"})
            assert wrong.status_code == 401
            # The bot's credentials came encrypted and decrypt: its secret is still known.
            hook = f"{server.url}{before['bots'][0]['webhook_url']}"
            no_text = {"update_id": 5, "message": {"no": "shape"}}
            for secret, status in (("backup-secret_1", 200), ("guess", 401)):
                said = {"X-Telegram-Bot-Api-Secret-Token": secret}
                assert httpx.post(hook, json=no_text, headers=said, timeout=5).status_code == status
            back = tmp_path / "back.jsonl.gz"
            made = _run(tmp_path, "backup", str(back), **target)
        assert made.returncode == 0, made.stderr

        home = _sqlite(tmp_path / "home")
        restored = _run(tmp_path, "restore", str(back), **home)
        assert restored.returncode == 0, restored.stderr
        with chatorch(tmp_path, **home) as server:
            _wait(lambda: _file(server.url, file_id, headers)["status"] == "ready", "ready")
            assert _everything(server.url, admin, user) == before
            assert _content(server.url, user, file_id) == NOTES
            found = httpx.get(
                f"{server.url}/v1/search", params={"q": "parcels"}, headers=headers, timeout=5
            )
            assert len(found.json()["items"]) >= 2  # SQLite's FTS5 triggers indexed them


def _lines(backup: Path) -> list[bytes]:
    with gzip.open(backup, "rb") as stream:
        return stream.read().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as stream:
        stream.write(b"".join(lines))
    return path


@pytest.fixture(scope="class")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of a small store: two users' keys and one chat with its answer."""
    workdir = tmp_path_factory.mktemp("made")
    source = _sqlite(workdir / "source")
    admin = _key(workdir, "alice", "admin", source)
    _key(workdir, "bob", "user", source)
    with chatorch(workdir, **source) as server:
        chat = httpx.post(
            f"{server.url}/v1/chats",
            json={"title": "t"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=5,
        ).json()
        posted = httpx.post(
            f"{server.url}/v1/chats/{chat['id']}/messages",
            json={"content": "hello"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=5,
        )
        assert posted.status_code == 202
    backup = workdir / "made.jsonl.gz"
    done = _run(workdir, "backup", str(backup), **source)
    assert done.returncode == 0, done.stderr
    return backup


def _refused(tmp_path: Path, backup: Path) -> str:
    """Restore ``backup`` into a new SQLite store; the one line it failed with."""
    target = _sqlite(tmp_path / "target")
    done = _run(tmp_path, "restore", str(backup), **target)
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""
    said = done.stderr.strip().splitlines()
    assert len(said) == 1, said
    assert "nothing was written" in said[0]
    assert not (tmp_path / "target" / "chatorch.db").exists()  # not even migrated
    return said[0]


class TestRefused:
    def test_a_file_cut_midway_names_the_line_it_breaks_at(
        self, tmp_path: Path, made: Path
    ) -> None:
        data = made.read_bytes()
        cut = tmp_path / "cut.jsonl.gz"
        cut.write_bytes(data[: len(data) // 2])
        said = _refused(tmp_path, cut)
        assert "truncated" in said
        assert " line " in said

    def test_a_file_missing_its_last_lines_names_where_it_ends(
        self, tmp_path: Path, made: Path
    ) -> None:
        lines = _lines(made)
        short = _write(tmp_path / "short.jsonl.gz", lines[:-3])
        said = _refused(tmp_path, short)
        assert f"line {len(lines) - 2}: the file ends without its trailer" in said

    def test_a_corrupt_line_names_its_number(self, tmp_path: Path, made: Path) -> None:
        lines = _lines(made)
        lines[3] = b'{"table": "users", "row": {"id": \n'
        said = _refused(tmp_path, _write(tmp_path / "bad.jsonl.gz", lines))
        assert "line 4: not JSON" in said

    def test_an_edited_value_fails_the_checksum(self, tmp_path: Path, made: Path) -> None:
        lines = _lines(made)
        at = next(i for i, line in enumerate(lines) if b'"hello"' in line)
        lines[at] = lines[at].replace(b'"hello"', b'"HELLO"')
        said = _refused(tmp_path, _write(tmp_path / "edited.jsonl.gz", lines))
        assert f"line {len(lines)}: the checksum does not match" in said

    def test_a_row_with_an_unknown_column_is_refused(self, tmp_path: Path, made: Path) -> None:
        lines = _lines(made)
        at = next(i for i, line in enumerate(lines) if line.startswith(b'{"table":"users"'))
        lines[at] = lines[at].replace(b'"name":', b'"nickname":')
        said = _refused(tmp_path, _write(tmp_path / "renamed.jsonl.gz", lines))
        assert f"line {at + 1}: not a backup record: users: missing columns ['name']" in said

    def test_a_conflict_in_the_target_rolls_every_row_back(
        self, tmp_path: Path, made: Path
    ) -> None:
        target = _sqlite(tmp_path / "target")
        _key(tmp_path, "alice", "user", target)  # the same name, another id
        done = _run(tmp_path, "restore", str(made), **target)
        assert done.returncode == 1
        assert "conflict" in done.stderr
        assert "nothing was written" in done.stderr
        with sqlite3.connect(tmp_path / "target" / "chatorch.db") as db:
            users = {name for (name,) in db.execute("SELECT name FROM users")}
            (keys,) = db.execute("SELECT count(*) FROM api_keys").fetchone()
            (chats,) = db.execute("SELECT count(*) FROM chats").fetchone()
        assert users == {"alice", "local"}  # the target's own; the backup's bob is not there
        assert (keys, chats) == (1, 0)
