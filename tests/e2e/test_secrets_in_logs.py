"""Whatever happens, the logs never hold an API key, a bearer token or a provider key."""

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
from cryptography.fernet import Fernet

from tests.e2e.processes import CHATORCH, Chatorch, fake_openai
from tests.fixtures.fake_telegram import fake_telegram, update

PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _token(**claims: object) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": "https://id.test/",
        "aud": "chatorch",
        "sub": "sam",
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode({**body, **claims}, JWT_SECRET, algorithm="HS256")


class TestLogs:
    def test_debug_logs_of_a_busy_server_hold_no_secret(self, tmp_path: Path) -> None:
        with fake_openai() as upstream:
            settings = {
                "log_level": "debug",
                "auth_required": "true",
                "jwt_issuer": "https://id.test/",
                "jwt_audience": "chatorch",
                "jwt_secret": JWT_SECRET,
                "llm": "openai:fake-error-401,builtin",  # the fake echoes the key it got
                "openai_base_url": upstream,
                "openai_api_key": PROVIDER_KEY,
            }
            env = {
                "PATH": "/usr/bin:/bin",
                **{f"CHATORCH_{k.upper()}": v for k, v in settings.items()},
            }
            created = subprocess.run(
                [str(CHATORCH), "keys", "create", "--user", "ada"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            key = created.stdout.strip().splitlines()[-1]
            server = Chatorch(tmp_path, **settings)
            try:
                secrets = [key, _token(), _token(aud="other"), "chk_guessed-wrong-key"]
                asyncio.run(_exercise(server.url, secrets))
            finally:
                server.stop()
        logged = server.log.read_text()
        assert "answer.completed" in logged or "llm.fallback" in logged  # it did log
        for secret in [PROVIDER_KEY, JWT_SECRET, *secrets]:
            assert secret not in logged


async def _exercise(url: str, credentials: list[str]) -> None:
    """Good and bad credentials, a message whose first provider fails and echoes its key."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for credential in credentials:
            await http.get("/v1/chats", headers={"Authorization": f"Bearer {credential}"})
        good = {"Authorization": f"Bearer {credentials[0]}"}
        chat = (await http.post("/v1/chats", json={}, headers=good)).json()
        accepted = (
            await http.post(
                f"/v1/chats/{chat['id']}/messages", json={"content": "hi"}, headers=good
            )
        ).json()
        async with http.stream("GET", accepted["events_url"], headers=good) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:") and '"message_id"' in line:
                    json.loads(line[5:])
                    break


class TestChannelLogs:
    async def test_debug_logs_of_a_telegram_bot_hold_no_credential(self, tmp_path: Path) -> None:
        token = "555666:AAHlog-scan-telegram-token"  # part of every Bot API URL
        secret = "log-scan-webhook-secret"
        vault_key = Fernet.generate_key().decode()
        async with fake_telegram() as api:
            settings = {
                "log_level": "debug",
                "secret_keys": vault_key,
                "telegram_api_url": api.url,
            }
            server = await asyncio.to_thread(Chatorch, tmp_path, **settings)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    made = await http.post(
                        "/v1/bots",
                        json={
                            "platform": "telegram",
                            "name": "scan",
                            "credentials": {"token": token, "secret_token": secret},
                        },
                    )
                    webhook = made.json()["webhook_url"]
                    signed = {"X-Telegram-Bot-Api-Secret-Token": secret}
                    await http.post(webhook, json=update(1, "what is 2+2?"), headers=signed)
                    await http.post(webhook, json=update(2, "hi"), headers={})  # forged
                for _ in range(100):
                    if api.called("sendMessage"):
                        break
                    await asyncio.sleep(0.1)
            finally:
                await asyncio.to_thread(server.stop)
        logged = server.log.read_text()
        assert api.called("sendMessage"), "the bot answered"
        assert "channel.received" in logged  # it did log the traffic
        for credential in (token, secret, vault_key):
            assert credential not in logged
