"""CHATORCH_SECRET_KEYS that cannot read the stored secrets: said plainly, at start."""

import json
import os
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from tests.e2e.processes import CHATORCH, chatorch, fake_openai


def _run(
    workdir: Path, *args: str, given: str = "", **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATORCH_")}
    env |= {f"CHATORCH_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [str(CHATORCH), *args],
        cwd=workdir,
        env=env,
        input=given,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _store_provider_key(workdir: Path, key: str) -> None:
    stored = _run(workdir, "secrets", "set", "openai_api_key", given="sk-live\n", secret_keys=key)
    assert stored.returncode == 0, stored.stderr


class TestSecretKeys:
    def test_a_key_that_decrypts_nothing_stops_serve_in_one_line(self, tmp_path: Path) -> None:
        _store_provider_key(tmp_path, Fernet.generate_key().decode())
        with fake_openai() as base_url:
            result = _run(
                tmp_path,
                "serve",
                "--port",
                "0",
                secret_keys=Fernet.generate_key().decode(),  # not the one it was stored with
                llm="openai:fake-echo",
                openai_base_url=base_url,
            )
        assert result.returncode != 0
        said = (result.stdout + result.stderr).strip().splitlines()
        assert len(said) == 1, said
        assert "CHATORCH_SECRET_KEYS" in said[0]
        assert "openai_api_key" in said[0]
        assert "Traceback" not in said[0]

    def test_stored_secrets_without_the_setting_are_a_warning(self, tmp_path: Path) -> None:
        _store_provider_key(tmp_path, Fernet.generate_key().decode())
        with (
            fake_openai() as base_url,
            chatorch(
                tmp_path, log_level="warning", llm="openai:fake-echo", openai_base_url=base_url
            ) as server,
        ):
            pass
        events = [
            json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"
        ]
        ignored = [e for e in events if e["event"] == "secret.ignored"]
        assert [e["secret"] for e in ignored] == ["openai_api_key"]
        assert "CHATORCH_SECRET_KEYS" in ignored[0]["detail"]
