"""``chatorch bots``: credentials read from a file or stdin, stored encrypted, never
printed; the bots listed and deleted; their credentials rotated with the secrets."""

import asyncio
import json
import re
import secrets
import sqlite3
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from tests.conftest import remember
from tests.e2e.processes import CHATORCH
from tests.fixtures.fake_telegram import fake_telegram

TELEGRAM = {
    "token": remember("123456789:AAHcli-" + secrets.token_urlsafe(24)),
    "secret_token": remember("cli-secret_" + secrets.token_urlsafe(16)),
}
SLACK = {
    "bot_token": remember("xoxb-cli-" + secrets.token_hex(16)),
    "signing_secret": remember("cli-signing-" + secrets.token_hex(16)),
}
_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"


class _Cli:
    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.database = tmp_path / "bots.db"
        self.env = {
            "CHATORCH_DATABASE_URL": f"sqlite+aiosqlite:///{self.database}",
            "PATH": "/usr/bin:/bin",
            **{f"CHATORCH_{name.upper()}": value for name, value in settings.items()},
        }

    def __call__(
        self, command: str, *args: str, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """Run ``chatorch <command words> <args>``; no credential may be printed."""
        done = subprocess.run(
            [str(CHATORCH), *command.split(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=self.env,
        )
        for value in [*TELEGRAM.values(), *SLACK.values()]:
            assert value not in done.stdout + done.stderr, "a credential was printed"
        return done


class TestBotsCommands:
    def test_create_list_delete(self, tmp_path: Path) -> None:
        key = remember(Fernet.generate_key().decode())
        cli = _Cli(tmp_path, secret_keys=key)
        file = tmp_path / "telegram.json"
        file.write_text(json.dumps(TELEGRAM), encoding="utf-8")

        made = cli(
            "bots create --platform telegram --name support --credentials-file",
            str(file),
            "--tools",
            "calculator, current_time",
        )
        assert made.returncode == 0, made.stderr
        summary, url = made.stdout.strip().splitlines()
        match = re.fullmatch(rf"bot ({_ID}) \(telegram, support\)", summary)
        assert match, summary
        telegram = match.group(1)
        assert url == f"webhook_url: /v1/webhooks/{telegram}"
        piped = cli(
            "bots create --platform slack --name ops --credentials-file - --llm builtin",
            stdin=json.dumps(SLACK),
        )
        assert piped.returncode == 0, piped.stderr
        slack = piped.stdout.split()[1]

        listed = cli("bots list").stdout.strip().splitlines()
        assert [line.split()[:3] for line in listed] == [
            [slack, "slack", "ops"],
            [telegram, "telegram", "support"],
        ]
        assert listed[1].endswith(f"/v1/webhooks/{telegram}")
        with sqlite3.connect(cli.database) as db:
            rows = dict(db.execute("SELECT name, credentials FROM bots").fetchall())
            (tools,) = db.execute("SELECT tools FROM bots WHERE name = 'support'").fetchone()
        assert json.loads(Fernet(key.encode()).decrypt(rows["support"].encode())) == TELEGRAM
        assert json.loads(tools) == ["calculator", "current_time"]

        deleted = cli("bots delete", telegram)
        assert deleted.stdout.strip() == f"deleted bot {telegram} (telegram, support)"
        assert [line.split()[0] for line in cli("bots list").stdout.splitlines()] == [slack]
        again = cli("bots delete", telegram)
        assert (again.returncode, again.stderr.strip()) == (1, f"chatorch: no bot {telegram}")

    def test_absolute_webhook_url_under_the_public_url(self, tmp_path: Path) -> None:
        cli = _Cli(
            tmp_path,
            secret_keys=remember(Fernet.generate_key().decode()),
            public_url="https://bots.example.com",
        )
        made = cli(
            "bots create --platform slack --name ops --credentials-file -",
            stdin=json.dumps(SLACK),
        )
        bot_id = made.stdout.split()[1]
        assert made.stdout.strip().splitlines()[1] == (
            f"webhook_url: https://bots.example.com/v1/webhooks/{bot_id}"
        )

    def test_refusals_are_one_line(self, tmp_path: Path) -> None:
        cli = _Cli(tmp_path, secret_keys=remember(Fernet.generate_key().decode()))
        create = "bots create --platform telegram --name t --credentials-file"
        for stdin, line in [
            (json.dumps({"token": TELEGRAM["token"]}), "chatorch: credentials.secret_token: "),
            ("{" + TELEGRAM["token"], "chatorch: the credentials are not JSON (line 1)"),
            (json.dumps({**TELEGRAM, "x": "y"}), "chatorch: credentials.x: not a telegram"),
        ]:
            refused = cli(create, "-", stdin=stdin)
            assert refused.returncode == 1
            (said,) = refused.stderr.strip().splitlines()
            assert said.startswith(line), said
        missing = cli(create, str(tmp_path / "nowhere.json"))
        assert missing.stderr.strip() == (
            "chatorch: cannot read the credentials file: No such file or directory"
        )
        unkeyed = _Cli(tmp_path)(create, "-", stdin=json.dumps(TELEGRAM))
        assert (unkeyed.returncode, unkeyed.stderr.strip()) == (
            1,
            "chatorch: set CHATORCH_SECRET_KEYS to store bots' credentials (they are encrypted)",
        )
        assert cli("bots list").stdout == ""

    def test_rotation_re_encrypts_bots_credentials(self, tmp_path: Path) -> None:
        old = remember(Fernet.generate_key().decode())
        new = remember(Fernet.generate_key().decode())
        made = _Cli(tmp_path, secret_keys=old)(
            "bots create --platform slack --name ops --credentials-file -",
            stdin=json.dumps(SLACK),
        )
        assert made.returncode == 0, made.stderr
        rotated = _Cli(tmp_path, secret_keys=f"{new},{old}")("secrets rotate")
        assert rotated.stdout.strip() == "re-encrypted 1 secrets with the first key"
        with sqlite3.connect(tmp_path / "bots.db") as db:
            (raw,) = db.execute("SELECT credentials FROM bots").fetchone()
        assert json.loads(Fernet(new.encode()).decrypt(raw.encode())) == SLACK
        raw_bytes = (tmp_path / "bots.db").read_bytes()
        assert not [v for v in SLACK.values() if v.encode() in raw_bytes]


class TestRegister:
    async def test_register_sets_telegrams_webhook_with_the_secret(self, tmp_path: Path) -> None:
        key = remember(Fernet.generate_key().decode())
        async with fake_telegram() as api:
            public = "https://bots.example.com"
            cli = _Cli(tmp_path, secret_keys=key, public_url=public, telegram_api_url=api.url)
            made = await asyncio.to_thread(
                cli,
                "bots create --platform telegram --name support --credentials-file -",
                stdin=json.dumps(TELEGRAM),
            )
            bot = made.stdout.split()[1]
            done = await asyncio.to_thread(cli, "bots register", bot)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (
            f"telegram delivers bot {bot}'s messages to {public}/v1/webhooks/{bot}"
        )
        (call,) = api.calls
        assert call["method"] == "setWebhook"
        assert call["token"] == TELEGRAM["token"]
        assert call["params"]["url"] == f"{public}/v1/webhooks/{bot}"
        assert call["params"]["secret_token"] == TELEGRAM["secret_token"]

    def test_register_without_a_public_url_says_what_to_set(self, tmp_path: Path) -> None:
        cli = _Cli(tmp_path, secret_keys=remember(Fernet.generate_key().decode()))
        made = cli(
            "bots create --platform telegram --name support --credentials-file -",
            stdin=json.dumps(TELEGRAM),
        )
        refused = cli("bots register", made.stdout.split()[1])
        assert refused.returncode == 1
        assert refused.stderr.startswith("chatorch: set CHATORCH_PUBLIC_URL")
