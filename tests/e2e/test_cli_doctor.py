"""``chatorch doctor`` as an operator runs it: one line per check, what to fix, and an
exit code a deployment script can act on — against the real PostgreSQL, NATS and Redis
of this machine and the fake model servers."""

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from chatorch.wiring import migrate_database
from tests.conftest import remember
from tests.e2e.processes import CHATORCH
from tests.fixtures.fake_openai import fake_openai_server
from tests.services import (
    NATS_URL,
    REDIS_URL,
    drop_nats_streams,
    fresh_database,
    require,
)

RIGHT_KEY = remember("sk-doctor-right-key-" + secrets.token_hex(8))
WRONG_KEY = remember("sk-doctor-wrong-key-" + secrets.token_hex(8))
MARKS = ("ok", "warn", "FAIL")


@dataclass
class Report:
    code: int
    lines: list[str]
    stderr: str

    def line(self, name: str) -> tuple[str, str]:
        """The mark and the detail of the one line of check ``name``."""
        found = [line for line in self.lines if line[5:].startswith(f"{name} ")]
        assert len(found) == 1, self.lines
        return found[0][:4].strip(), found[0][5:].removeprefix(name).strip()

    @property
    def names(self) -> list[str]:
        return [line[5:].split("  ")[0].strip() for line in self.lines]


async def _doctor(workdir: Path, *args: str, **settings: str) -> Report:
    """Run ``chatorch doctor`` in ``workdir`` with only ``settings`` (as CHATORCH_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
    env |= {f"CHATORCH_{name.upper()}": value for name, value in settings.items()}
    process = await asyncio.create_subprocess_exec(
        str(CHATORCH),
        "doctor",
        *args,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    report = Report(process.returncode, out.decode().splitlines(), err.decode())
    for line in report.lines:
        assert line[:4].strip() in MARKS, line  # readable without colour
    for secret in (RIGHT_KEY, WRONG_KEY):
        assert secret not in out.decode() + report.stderr, "a key was printed"
    return report


@pytest.fixture
async def distributed() -> AsyncIterator[dict[str, str]]:
    """Settings for a migrated PostgreSQL database, NATS and Redis of the test's own."""
    require("PostgreSQL", "127.0.0.1", 5432)
    require("NATS", "127.0.0.1", 4222)
    require("Redis", "127.0.0.1", 6379)
    namespace = f"doctor{secrets.token_hex(4)}"
    async with fresh_database() as database:
        try:
            yield {
                "database_url": database,
                "bus_url": NATS_URL,
                "cache_url": REDIS_URL,
                "namespace": namespace,
            }
        finally:
            await drop_nats_streams(namespace)


class TestAllWell:
    async def test_every_check_has_its_line_and_the_exit_code_is_0(
        self, tmp_path: Path, distributed: dict[str, str]
    ) -> None:
        await asyncio.to_thread(migrate_database, distributed["database_url"])
        async with fake_openai_server(api_key=RIGHT_KEY) as openai:
            report = await _doctor(
                tmp_path,
                **distributed,
                llm="openai:fake",
                openai_base_url=openai.url,
                openai_api_key=RIGHT_KEY,
            )
        assert report.code == 0, (report.lines, report.stderr)
        assert report.names == [
            "settings",
            "database",
            "bus",
            "cache",
            "blobs",
            "vectors",
            "llm openai:fake",
            "tools",
            "secrets",
            "auth",
        ]
        marks = {name: report.line(name)[0] for name in report.names}
        # without a Qdrant server, files are searched by full text only: said, not fatal
        assert marks == {name: "warn" if name == "vectors" else "ok" for name in report.names}
        assert "(the latest)" in report.line("database")[1]
        assert "JetStream enabled" in report.line("bus")[1]
        assert "answers PING" in report.line("cache")[1]
        assert "the key is accepted, the model is listed" in report.line("llm openai:fake")[1]
        assert report.stderr == ""

    async def test_the_embedded_default_loads_the_embedding_model(self, tmp_path: Path) -> None:
        report = await _doctor(tmp_path)
        assert report.code == 0, (report.lines, report.stderr)
        assert report.line("embeddings") == ("ok", "wordllama:l2_supercat: loaded, 256 numbers")
        mark, text = report.line("vectors")
        assert mark == "ok"
        assert str(tmp_path / "data" / "vectors") in text
        mark, text = report.line("database")  # `serve` migrates SQLite itself: a warning
        assert mark == "warn"
        assert "run `chatorch migrate`" in text
        assert report.line("llm builtin")[0] == "ok"


class TestBroken:
    @pytest.mark.parametrize(
        ("setting", "url"),
        [
            ("database_url", "postgresql+asyncpg://postgres@127.0.0.1:{port}/test"),
            ("bus_url", "nats://127.0.0.1:{port}"),
            ("cache_url", "redis://127.0.0.1:{port}/0"),
            ("vector_url", "http://127.0.0.1:{port}"),
        ],
    )
    async def test_a_closed_port_fails_the_line_naming_the_setting(
        self, tmp_path: Path, closed_port: int, setting: str, url: str
    ) -> None:
        report = await _doctor(tmp_path, **{setting: url.format(port=closed_port)})
        assert report.code == 1
        check = setting.removesuffix("_url").replace("vector", "vectors")
        mark, text = report.line(check)
        assert mark == "FAIL"
        assert text.startswith(f"CHATORCH_{setting.upper()}: ")
        assert str(closed_port) in text
        assert report.stderr.startswith("chatorch: ")

    async def test_an_unmigrated_database_says_to_run_migrate(
        self, tmp_path: Path, distributed: dict[str, str]
    ) -> None:
        before = await _doctor(tmp_path, **distributed)
        mark, text = before.line("database")
        assert before.code == 1
        assert mark == "FAIL"
        assert "schema empty; run `chatorch migrate`" in text
        assert "CHATORCH_DATABASE_URL" in text
        assert "secrets" not in before.names  # its tables are not there to look in
        await asyncio.to_thread(migrate_database, distributed["database_url"])
        after = await _doctor(tmp_path, **distributed)
        assert after.line("database")[0] == "ok"
        assert after.code == 0, after.lines

    async def test_a_refused_key_fails_when_no_provider_is_left(self, tmp_path: Path) -> None:
        async with fake_openai_server(api_key=RIGHT_KEY) as openai:
            alone = await _doctor(
                tmp_path, llm="openai:fake", openai_base_url=openai.url, openai_api_key=WRONG_KEY
            )
            covered = await _doctor(
                tmp_path,
                llm="openai:fake,builtin",
                openai_base_url=openai.url,
                openai_api_key=WRONG_KEY,
            )
        mark, text = alone.line("llm openai:fake")
        assert alone.code == 1
        assert mark == "FAIL"
        assert "HTTP 401" in text
        assert "Incorrect API key provided" in text
        assert "check CHATORCH_OPENAI_API_KEY" in text
        assert "no provider of CHATORCH_LLM answers" in text
        mark, text = covered.line("llm openai:fake")
        assert covered.code == 0, covered.lines
        assert mark == "warn"
        assert "answers fall back to it" in text
        assert covered.line("llm builtin")[0] == "ok"

    async def test_a_bad_setting_is_one_line_naming_it(self, tmp_path: Path) -> None:
        report = await _doctor(tmp_path, port="eighty")
        assert report.code == 1
        assert report.lines == []
        (line,) = report.stderr.strip().splitlines()
        assert line.startswith("chatorch: invalid settings: CHATORCH_PORT: ")

    async def test_an_open_address_without_auth_fails(self, tmp_path: Path) -> None:
        for report in (
            await _doctor(tmp_path, host="0.0.0.0"),
            await _doctor(tmp_path, "--host", "0.0.0.0"),
        ):
            mark, text = report.line("auth")
            assert report.code == 1
            assert mark == "FAIL"
            assert "set CHATORCH_AUTH_REQUIRED=true" in text
        secured = await _doctor(tmp_path, "--host", "0.0.0.0", auth_required="true")
        assert secured.line("auth")[0] == "ok"

    async def test_a_tools_file_that_does_not_parse_names_the_setting(self, tmp_path: Path) -> None:
        tools = tmp_path / "tools.yaml"
        tools.write_text("http:\n  - name: [not, a, name]\n", encoding="utf-8")
        report = await _doctor(tmp_path, tools_file=str(tools))
        mark, text = report.line("tools")
        assert report.code == 1
        assert mark == "FAIL"
        assert "CHATORCH_TOOLS_FILE" in text
        assert "tools.yaml" in text

    async def test_bots_stored_without_the_secret_keys_fail(self, tmp_path: Path) -> None:
        key = remember(Fernet.generate_key().decode())
        database = f"sqlite+aiosqlite:///{tmp_path}/chatorch.db"
        credentials = {"bot_token": remember("xoxb-doctor-" + secrets.token_hex(8))}
        credentials["signing_secret"] = remember("doctor-signing-" + secrets.token_hex(8))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
        env |= {"CHATORCH_DATABASE_URL": database, "CHATORCH_SECRET_KEYS": key}
        command = ["bots", "create", "--platform", "slack", "--name", "ops"]
        made = await asyncio.to_thread(
            subprocess.run,
            [str(CHATORCH), *command, "--credentials-file", "-"],
            input=json.dumps(credentials),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        with_keys = await _doctor(tmp_path, database_url=database, secret_keys=key)
        without = await _doctor(tmp_path, database_url=database)
        other_key = remember(Fernet.generate_key().decode())
        wrong = await _doctor(tmp_path, database_url=database, secret_keys=other_key)
        assert with_keys.line("secrets")[0] == "ok"
        mark, text = without.line("secrets")
        assert without.code == 1
        assert mark == "FAIL"
        assert "CHATORCH_SECRET_KEYS is not set, but 1 bot(s)" in text
        mark, text = wrong.line("secrets")
        assert mark == "FAIL"
        assert text.startswith("CHATORCH_SECRET_KEYS: ")
