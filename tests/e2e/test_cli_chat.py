"""``chatorch chat`` as people use it, against a real ``chatorch serve``: piped, one-shot,
and a conversation on a terminal (a pseudo-terminal the test types into)."""

import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.processes import CHATORCH, Chatorch, chatorch, fake_openai, free_port

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHATORCH), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )


def _chats(server: Chatorch, key: str | None = None) -> list[dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    found: list[dict[str, str]] = httpx.get(f"{server.url}/v1/chats", headers=headers).json()
    return found


class TestOneAnswer:
    def test_a_piped_question_prints_its_answer_and_exits(self, tmp_path: Path) -> None:
        with chatorch(tmp_path) as server:
            result = _run("chat", "--url", server.url, stdin="what is 12*7?\n")
            assert result.returncode == 0, result.stderr
            assert "84" in result.stdout
            assert "→ calculator(12*7) = 84" in result.stderr  # the step, legible
            assert len(_chats(server)) == 1
            refused = _run("chat", "--url", server.url, stdin="x" * 40_000)
            assert refused.returncode == 1
            assert refused.stderr.startswith("chatorch: the server refused it (HTTP 413): ")
            assert len(_chats(server)) == 1  # the chat made for it is gone again

    def test_the_url_comes_from_chatorch_port_or_chatorch_url(self, tmp_path: Path) -> None:
        with chatorch(tmp_path) as server:
            by_port = _run("chat", "what is 2+3?", env={"CHATORCH_PORT": str(server.port)})
            by_url = _run("chat", "what is 2+4?", env={"CHATORCH_URL": server.url})
        assert by_port.returncode == 0, by_port.stderr
        assert "5" in by_port.stdout
        assert by_url.returncode == 0, by_url.stderr
        assert "6" in by_url.stdout

    def test_an_unreachable_server_is_one_line_and_exit_1(self) -> None:
        port = free_port()  # nothing listens there
        result = _run("chat", "hello", env={"CHATORCH_PORT": str(port)})
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"chatorch: cannot reach chatorch at http://127.0.0.1:{port}: connection refused\n"
        )

    def test_a_wrong_key_is_said_plainly(self, tmp_path: Path) -> None:
        with chatorch(tmp_path, auth_required="true") as server:
            wrong = _run("chat", "hi", "--url", server.url, env={"CHATORCH_API_KEY": "chk_nope"})
            missing = _run("chat", "hi", "--url", server.url)
        assert wrong.returncode == missing.returncode == 1
        assert (
            wrong.stderr == "chatorch: the API key was refused (check --key or CHATORCH_API_KEY)\n"
        )
        assert "needs an API key" in missing.stderr

    def test_nothing_piped_is_refused(self, tmp_path: Path) -> None:
        result = _run("chat", "--url", "http://127.0.0.1:1", stdin="  \n")
        assert result.returncode == 1
        assert result.stderr == "chatorch: nothing to send: give a message, or pipe one in\n"


class TestCommandLine:
    def test_version_and_short_help_everywhere(self) -> None:
        version = _run("--version")
        assert version.returncode == 0
        assert re.fullmatch(r"chatorch \d+\.\d+\.\d+\S*\n", version.stdout)
        for command in ([], ["chat"], ["keys"], ["keys", "create"], ["serve"], ["bots", "create"]):
            shown = _run(*command, "-h", env={"COLUMNS": "100"})
            assert shown.returncode == 0, command
            assert "Usage: chatorch" in shown.stdout, command
            assert not re.search(r"<(bool|str|int|float)>", shown.stdout), shown.stdout

    def test_keys_list_is_a_table_or_says_there_are_none(self, tmp_path: Path) -> None:
        env = {"CHATORCH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/keys.db"}
        empty = _run("keys", "list", env=env)
        assert empty.returncode == 0, empty.stderr
        assert empty.stdout.startswith("no keys")
        made = _run(
            "keys", "create", "--user", "ada", "--role", "operator", "--name", "laptop", env=env
        )
        assert made.returncode == 0, made.stderr
        key_id = made.stdout.split()[1]
        refused = _run(
            "keys", "create", "--user", "ada", "--role", "boss", env=env | {"COLUMNS": "200"}
        )
        assert refused.returncode == 2
        assert "'boss' is not one of 'user', 'operator', 'admin'" in refused.stderr
        listed = _run("keys", "list", env=env).stdout.splitlines()
        header = next(line for line in listed if line.strip())
        assert header.split() == ["id", "prefix", "user", "role", "name", "state"]
        row = next(line for line in listed if key_id in line)
        assert row.split()[2:] == ["ada", "operator", "laptop", "active"]


class Terminal:
    """``chatorch chat`` on a pseudo-terminal: what it shows, read as plain text."""

    def __init__(self, url: str, home: Path) -> None:
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm", "COLUMNS": "100"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the command, with this terminal as its own
            os.execve(str(CHATORCH), [str(CHATORCH), "chat", "--url", url], env)
        self.screen = ""

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        """Read until ``pattern`` (a regex) shows after what was already matched."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.screen)) is None:
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} never showed; the screen:\n{self.screen}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.screen += ANSI.sub("", os.read(self.fd, 65536).decode(errors="replace"))
                except OSError:  # the command ended
                    break
        assert found is not None, f"{pattern!r} never showed; the screen:\n{self.screen}"
        shown, self.screen = self.screen[: found.end()], self.screen[found.end() :]
        return shown

    def exit_code(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        raise AssertionError("chatorch chat did not exit")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


@contextmanager
def terminal(url: str, home: Path) -> Iterator[Terminal]:
    term = Terminal(url, home)
    try:
        yield term
    finally:
        term.close()


class TestConversation:
    def test_a_session_answers_starts_new_chats_and_quits(self, tmp_path: Path) -> None:
        with chatorch(tmp_path) as server, terminal(server.url, tmp_path) as term:
            term.wait_for("/quit")  # the greeting names the commands
            term.wait_for("› ")
            assert _chats(server) == []  # nothing until a message is sent
            term.type("what is 12*7?\n")
            term.wait_for("→ calculator\\(12\\*7\\) = 84")
            term.wait_for("84")
            term.wait_for("› ")
            term.type("/new\n")
            term.wait_for("a new chat starts with your next message")
            term.type("/new\n")  # twice: still no empty chat
            term.wait_for("› ")
            assert len(_chats(server)) == 1
            term.type("what is 6*7?\n")
            term.wait_for("42")
            term.type("/chats\n")
            listed = term.wait_for("open which\\?")
            assert "what is 6*7?" in listed  # newest first, titled by its first message
            assert "what is 12*7?" in listed
            term.type("2\n")
            term.wait_for("now in “what is 12\\*7\\?”")
            term.type("/quit\n")
            assert term.exit_code() == 0
            chats = _chats(server)
        assert [chat["title"] for chat in chats] == ["what is 6*7?", "what is 12*7?"]
        history = tmp_path / ".local" / "state" / "chatorch" / "chat_history"
        assert "what is 6*7?" in history.read_text()

    def test_ctrl_c_stops_an_answer_and_ctrl_d_quits(self, tmp_path: Path) -> None:
        with (
            fake_openai() as llm,
            chatorch(
                tmp_path, llm="openai:fake-slow-200-tokens-100", openai_base_url=llm
            ) as server,
            terminal(server.url, tmp_path) as term,
        ):
            term.wait_for("› ")
            term.type("tell me a long story\n")
            term.wait_for("tok2")
            term.type("\x03")  # Ctrl-C: the answer stops, the session does not
            term.wait_for("■ [^\n]*stopped")
            term.wait_for("› ", timeout=10)
            term.type("\x04")  # Ctrl-D at the prompt ends the session
            assert term.exit_code() == 0
