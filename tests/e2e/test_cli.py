"""The command line against a running server, and the JSON logs it leaves."""

import json
import sqlite3
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from tests.e2e.processes import CHATORCH, chatorch
from tests.unit.adapters.sql.test_sql_migrations import HEAD


class TestChatCommand:
    def test_prints_the_streamed_answer_and_logs_carry_the_ids(self, tmp_path: Path) -> None:
        with chatorch(tmp_path, log_level="info") as server:
            result = subprocess.run(
                [str(CHATORCH), "chat", "--url", server.url, "what is 12*7?"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        assert result.returncode == 0, result.stderr
        assert "84" in result.stdout
        assert "→ calculator(12*7) = 84" in result.stderr  # the tool call, as a step line
        lines = [
            json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"
        ]
        accepted = next(line for line in lines if line["event"] == "message.accepted")
        completed = next(line for line in lines if line["event"] == "answer.completed")
        assert accepted["request_id"]
        assert completed["message_id"] == accepted["message_id"]
        assert completed["chat_id"] == accepted["chat_id"]

    def test_reports_an_unreachable_server_in_one_line(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [str(CHATORCH), "chat", "--url", "http://127.0.0.1:1", "hello"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1
        assert (
            result.stderr
            == "chatorch: cannot reach chatorch at http://127.0.0.1:1: connection refused\n"
        )


class TestStartup:
    def test_a_bad_database_url_fails_in_one_line_naming_the_setting(self, tmp_path: Path) -> None:
        for url, setting in [
            ("mysql://nowhere/db", "CHATORCH_DATABASE_URL"),
            ("postgresql+asyncpg://nobody@127.0.0.1:1/none", "CHATORCH_DATABASE_URL"),
            ("sqlite+aiosqlite:///:memory:", "CHATORCH_DATABASE_URL"),
            ("nats://127.0.0.1:1", "CHATORCH_BUS_URL"),
        ]:
            result = subprocess.run(
                [str(CHATORCH), "serve", "--port", "0"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=tmp_path,
                env={setting: url, "PATH": "/usr/bin:/bin"},
            )
            assert result.returncode == 1
            assert result.stdout == ""
            (line,) = result.stderr.strip().splitlines()  # nothing before it, either
            assert line.startswith("chatorch: "), result.stderr
            assert setting in line

    def test_a_worker_without_nats_says_so_in_one_line(self, tmp_path: Path) -> None:
        """Not a warning per connection attempt and then the reason: the reason alone."""
        result = subprocess.run(
            [str(CHATORCH), "worker"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={"CHATORCH_BUS_URL": "nats://127.0.0.1:1", "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode != 0
        (line,) = result.stdout.strip().splitlines()
        assert line.startswith("chatorch: CHATORCH_BUS_URL: "), result.stdout
        assert "nats://127.0.0.1:1" in line
        assert "refused" in line

    def test_every_line_at_start_is_json_in_one_format(self, tmp_path: Path) -> None:
        """Ours, uvicorn's and the no-authentication warning: one compact JSON object a
        line, fields first, then event, level and timestamp (as docs/operations.md shows)."""
        with chatorch(tmp_path, log_level="info") as server:
            pass  # started (healthy), then stopped: the log holds both ends
        lines = server.log.read_text().splitlines()
        events = []
        for line in lines:
            parsed = json.loads(line)
            assert line == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False), line
            assert list(parsed)[-3:] == ["event", "level", "timestamp"], line
            events.append(parsed)
        names = [event["event"] for event in events]
        warning = events[names.index("auth.disabled")]
        assert warning["level"] == "warning"
        assert "CHATORCH_AUTH_REQUIRED" in warning["detail"]
        assert "chatorch.started" in names
        assert any(name.startswith("Uvicorn running on http://127.0.0.1:") for name in names)

    def test_a_broken_tools_file_fails_in_one_line_naming_the_setting(self, tmp_path: Path) -> None:
        broken = tmp_path / "tools.yaml"
        broken.write_text("http:\n  - name: x\n", encoding="utf-8")
        result = subprocess.run(
            [str(CHATORCH), "serve", "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={"CHATORCH_TOOLS_FILE": str(broken), "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("chatorch: CHATORCH_TOOLS_FILE: "), result.stderr
        assert "http[0]" in last

    def test_migrate_up_and_down(self, tmp_path: Path) -> None:
        env = {"CHATORCH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/m.db", "PATH": "/usr/bin"}

        def migrate(*args: str) -> str:
            done = subprocess.run(
                [str(CHATORCH), "migrate", *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
                env=env,
            )
            return done.stdout.strip()

        assert migrate() == f"database at revision {HEAD}"
        assert migrate("--downgrade", "base") == "database at revision base (empty)"
        assert migrate() == f"database at revision {HEAD}"


class TestSecretsCommands:
    def test_set_then_rotate_to_a_new_key(self, tmp_path: Path) -> None:
        def run(*args: str, keys: str, stdin: str = "") -> str:
            env = {
                "CHATORCH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/s.db",
                "CHATORCH_SECRET_KEYS": keys,
                "PATH": "/usr/bin:/bin",
            }
            done = subprocess.run(
                [str(CHATORCH), "secrets", *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
                env=env,
            )
            return done.stdout.strip()

        old = run("new-key", keys="")
        new = run("new-key", keys="")
        assert old != new
        assert run("set", "openai_api_key", keys=old, stdin="sk-from-stdin\n") == (
            "stored openai_api_key"
        )
        assert run("rotate", keys=f"{new},{old}") == "re-encrypted 1 secrets with the first key"
        with sqlite3.connect(tmp_path / "s.db") as db:
            (raw,) = db.execute("SELECT ciphertext FROM secrets").fetchone()
        assert "sk-from-stdin" not in raw
        assert Fernet(new.encode()).decrypt(raw.encode()) == b"sk-from-stdin"
