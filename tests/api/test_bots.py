"""Bots through the API: created with each platform's credentials, listed, read, changed
and deleted by an operator; credentials checked field by field, stored only encrypted,
and never shown again — not in a response, not in the database file, not in a log."""

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember

KEYS = remember(Fernet.generate_key().decode())
CREDENTIALS: dict[str, dict[str, str]] = {
    "telegram": {
        "token": "123456789:AAHapi-test-telegram-token_" + secrets.token_urlsafe(12),
        "secret_token": "api-secret_" + secrets.token_urlsafe(12),
    },
    "slack": {
        "bot_token": "xoxb-api-test-" + secrets.token_hex(12),
        "signing_secret": "slack-signing-" + secrets.token_hex(12),
    },
    "discord": {
        "application_id": "1139" + str(secrets.randbelow(10**14)).zfill(14),
        "public_key": secrets.token_hex(32),
        "bot_token": "discord-bot-" + secrets.token_urlsafe(18),
    },
    "whatsapp": {
        "access_token": "EAAGwhatsapp" + secrets.token_urlsafe(18),
        "app_secret": "wa-app-secret-" + secrets.token_hex(12),
        "verify_token": "wa-verify-" + secrets.token_hex(12),
        "phone_number_id": "1065" + str(secrets.randbelow(10**12)).zfill(12),
    },
    "messenger": {
        "page_access_token": "EAAGmessenger" + secrets.token_urlsafe(18),
        "app_secret": "fb-app-secret-" + secrets.token_hex(12),
        "verify_token": "fb-verify-" + secrets.token_hex(12),
    },
}
VALUES = [remember(value) for fields in CREDENTIALS.values() for value in fields.values()]
SHOWN = {"id", "platform", "name", "webhook_url", "created_at", "llm", "tools", "prompt"}


@pytest.fixture
def vaulted(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, secret_keys=KEYS)


@pytest.fixture
async def client(vaulted: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(vaulted) as http:
        yield http


def _new(platform: str = "telegram", **fields: Any) -> dict[str, Any]:
    credentials = CREDENTIALS.get(platform, CREDENTIALS["telegram"])
    return {"platform": platform, "name": f"{platform} helper", "credentials": credentials} | fields


def _no_credential_in(*texts: str) -> None:
    shown = [value[:8] + "…" for value in VALUES if any(value in text for text in texts)]
    assert not shown, f"credentials shown: {shown}"


async def _create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/bots", json=_new(**fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class TestLifecycle:
    async def test_create_read_list_change_delete(self, client: httpx.AsyncClient) -> None:
        made = await client.post("/v1/bots", json=_new())
        assert made.status_code == 201, made.text
        bot = made.json()
        assert set(bot) == SHOWN
        assert made.headers["location"] == f"/v1/bots/{bot['id']}"
        assert bot["webhook_url"] == f"/v1/webhooks/{bot['id']}"
        assert (bot["platform"], bot["name"], bot["llm"], bot["tools"]) == (
            "telegram",
            "telegram helper",
            None,
            None,
        )
        second = await _create(client, platform="slack", llm="builtin", tools=["calculator"])
        listed = await client.get("/v1/bots")
        assert [b["id"] for b in listed.json()] == [second["id"], bot["id"]]
        read = await client.get(f"/v1/bots/{bot['id']}")
        assert read.json() == bot

        renamed = await client.patch(
            f"/v1/bots/{bot['id']}", json={"name": "renamed", "tools": ["current_time"]}
        )
        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["name"], renamed.json()["tools"]) == ("renamed", ["current_time"])
        cleared = await client.patch(f"/v1/bots/{bot['id']}", json={"tools": None, "llm": None})
        assert (cleared.json()["tools"], cleared.json()["llm"]) == (None, None)
        new_token = remember("55501:AAHrotated_" + secrets.token_urlsafe(16))
        rotated = await client.patch(
            f"/v1/bots/{bot['id']}",
            json={"credentials": {**CREDENTIALS["telegram"], "token": new_token}},
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["name"] == "renamed"
        unchanged = await client.patch(f"/v1/bots/{bot['id']}", json={})
        assert unchanged.json() == rotated.json()

        deleted = await client.delete(f"/v1/bots/{bot['id']}")
        assert deleted.status_code == 204
        gone = await client.get(f"/v1/bots/{bot['id']}")
        assert gone.status_code == 404
        assert gone.json()["code"] == "not_found"
        assert (await client.delete(f"/v1/bots/{bot['id']}")).status_code == 404
        assert [b["id"] for b in (await client.get("/v1/bots")).json()] == [second["id"]]
        texts = [r.text for r in (made, listed, read, renamed, cleared, rotated, unchanged)]
        _no_credential_in(*texts, new_token)

    @pytest.mark.parametrize("platform", sorted(CREDENTIALS))
    async def test_each_platform_takes_its_own_credentials(
        self, client: httpx.AsyncClient, platform: str
    ) -> None:
        bot = await _create(client, platform=platform)
        assert bot["platform"] == platform
        read = await client.get(f"/v1/bots/{bot['id']}")
        _no_credential_in(str(bot), read.text)

    async def test_changes_are_audited_without_credentials(self, client: httpx.AsyncClient) -> None:
        bot = await _create(client)
        await client.patch(
            f"/v1/bots/{bot['id']}", json={"credentials": CREDENTIALS["telegram"], "name": "b"}
        )
        await client.delete(f"/v1/bots/{bot['id']}")
        audit = await client.get("/v1/admin/audit", params={"action": "bot."})
        events = [(e["action"], e["actor"], e["target"], e["detail"]) for e in audit.json()]
        assert events == [
            ("bot.deleted", "local", bot["id"], {"platform": "telegram", "name": "b"}),
            ("bot.updated", "local", bot["id"], {"fields": ["credentials", "name"]}),
            (
                "bot.created",
                "local",
                bot["id"],
                {"platform": "telegram", "name": "telegram helper"},
            ),
        ]
        _no_credential_in(audit.text)


class TestRefusals:
    @pytest.mark.parametrize(
        ("platform", "credentials", "named"),
        [
            ("telegram", {"token": CREDENTIALS["telegram"]["token"]}, "credentials.secret_token"),
            ("slack", {**CREDENTIALS["slack"], "team": "T1"}, "credentials.team"),
            (
                "telegram",
                {**CREDENTIALS["telegram"], "secret_token": "a b"},
                "credentials.secret_token",
            ),
            ("discord", {**CREDENTIALS["discord"], "public_key": "abc"}, "credentials.public_key"),
            (
                "discord",
                {**CREDENTIALS["discord"], "public_key": "zz" * 32},
                "credentials.public_key",
            ),
            ("whatsapp", {**CREDENTIALS["whatsapp"], "app_secret": ""}, "credentials.app_secret"),
            (
                "messenger",
                {**CREDENTIALS["messenger"], "verify_token": "a\u0000"},
                "credentials.verify_token",
            ),
            ("slack", {**CREDENTIALS["slack"], "bot_token": 7}, "credentials.bot_token"),
            ("telegram", CREDENTIALS["slack"], "credentials.token"),
        ],
    )
    async def test_a_missing_extra_or_malformed_field_is_named(
        self, client: httpx.AsyncClient, platform: str, credentials: Any, named: str
    ) -> None:
        refused = await client.post("/v1/bots", json=_new(platform, credentials=credentials))
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_input"
        assert named in refused.json()["detail"]
        _no_credential_in(refused.text)
        assert (await client.get("/v1/bots")).json() == []

    @pytest.mark.parametrize(
        ("body", "named"),
        [
            (_new("icq"), "platform"),
            ({k: v for k, v in _new().items() if k != "credentials"}, "credentials"),
            (_new(name=" "), "name"),
            (_new(llm="gemini:pro"), "llm names unknown provider 'gemini'"),
            (_new(llm="openai"), "llm: 'openai' needs a model"),
            (_new(tools=["no spaces"]), "tools.0"),
            (_new(owner="me"), "owner: Extra inputs are not permitted"),
        ],
    )
    async def test_other_fields_are_checked_too(
        self, client: httpx.AsyncClient, body: dict[str, Any], named: str
    ) -> None:
        refused = await client.post("/v1/bots", json=body)
        assert refused.status_code == 422, refused.text
        assert named in refused.json()["detail"]
        _no_credential_in(refused.text)

    async def test_a_patch_checks_what_it_changes(self, client: httpx.AsyncClient) -> None:
        bot = await _create(client)
        url = f"/v1/bots/{bot['id']}"
        for body, named in [
            ({"name": None}, "name: Value error, may be left out, but not null"),
            ({"credentials": None}, "credentials: Value error, may be left out, but not null"),
            ({"credentials": {"token": "1:a"}}, "credentials.secret_token"),
            ({"platform": "slack"}, "platform: Extra inputs are not permitted"),
            ({"llm": "nope"}, "llm names unknown provider 'nope'"),
        ]:
            refused = await client.patch(url, json=body)
            assert refused.status_code == 422, refused.text
            assert named in refused.json()["detail"]
        assert (await client.get(url)).json() == bot

    async def test_unknown_and_malformed_ids(self, client: httpx.AsyncClient) -> None:
        unknown = "01a200dc-d96d-7212-8d9c-000000000000"
        for method in ("GET", "DELETE"):
            missing = await client.request(method, f"/v1/bots/{unknown}")
            assert missing.status_code == 404
            assert missing.json()["detail"] == f"no bot {unknown}"
        patched = await client.patch(f"/v1/bots/{unknown}", json={"name": "x"})
        assert patched.status_code == 404
        assert (await client.get("/v1/bots/not-a-uuid")).status_code == 422

    async def test_without_secret_keys_no_credential_is_taken(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path)) as client:
            refused = await client.post("/v1/bots", json=_new())
            listed = await client.get("/v1/bots")
        assert refused.status_code == 409
        assert refused.json()["code"] == "not_configured"
        assert "CHATORCH_SECRET_KEYS" in refused.json()["detail"]
        assert listed.json() == []


class TestRoles:
    async def test_managing_bots_needs_the_operator_role(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True, secret_keys=KEYS)

        async def key(user: str, role: AccessRole) -> dict[str, str]:
            async with store_only(settings) as auth:
                made, _ = await auth.create_key(user_name=user, role=role)
            return {"Authorization": f"Bearer {remember(made)}"}

        user, operator = await key("ann", AccessRole.USER), await key("op", AccessRole.OPERATOR)
        async with serve(settings) as client:
            anonymous = await client.get("/v1/bots")
            made = await client.post("/v1/bots", json=_new(), headers=operator)
            assert made.status_code == 201, made.text
            path = f"/v1/bots/{made.json()['id']}"
            refusals = [
                await client.post("/v1/bots", json=_new(), headers=user),
                await client.get("/v1/bots", headers=user),
                await client.get(path, headers=user),
                await client.patch(path, json={"name": "mine"}, headers=user),
                await client.delete(path, headers=user),
            ]
            listed = await client.get("/v1/bots", headers=operator)
        assert anonymous.status_code == 401
        assert [r.status_code for r in refusals] == [403] * 5
        assert refusals[0].json()["detail"] == "this needs the operator role; yours is user"
        assert [b["name"] for b in listed.json()] == ["telegram helper"]


class TestAtRest:
    async def test_no_credential_is_in_the_database_files(self, vaulted: Settings) -> None:
        database = Path(vaulted.database_url.removeprefix("sqlite+aiosqlite:///"))
        async with serve(vaulted) as client:
            for platform in CREDENTIALS:
                await _create(client, platform=platform)
            running = _files(database)
        stopped = _files(database)
        assert running
        for raw in (running, stopped):
            found = [value[:8] + "…" for value in VALUES if value.encode() in raw]
            assert not found, f"credentials in plaintext in the database: {found}"
        assert b"telegram helper" in running + stopped  # the scan reads what was written


def _files(database: Path) -> bytes:
    """The bytes of the database and of its write-ahead log, as they are now."""
    return b"".join(
        path.read_bytes()
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    )


class TestWebhookUrl:
    async def test_absolute_under_the_public_url(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, secret_keys=KEYS, public_url="https://bots.example.com")
        async with serve(settings) as client:
            bot = await _create(client)
            listed = await client.get("/v1/bots")
        expected = f"https://bots.example.com/v1/webhooks/{bot['id']}"
        assert bot["webhook_url"] == expected
        assert listed.json()[0]["webhook_url"] == expected
