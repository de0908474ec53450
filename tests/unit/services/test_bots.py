"""The bot manager checks credentials per platform, stores them only encrypted, hands
them to the channel code decrypted, and the vault's rotation re-encrypts them."""

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.domain.entities import KEEP, Platform
from chatorch.domain.errors import InvalidInput, NotConfigured, NotFound
from chatorch.domain.ids import new_id
from chatorch.services.bots import BotManager, check_credentials, webhook_url
from chatorch.services.secrets import Vault, new_key
from tests.conftest import remember

TELEGRAM = {
    "token": remember("123456789:AAHunit-test-token_0123456789abcdefghij"),
    "secret_token": remember("unit-secret_TOKEN-42"),
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/bots.db"
    upgrade(url)
    adapter = await connect(url)
    yield adapter
    await adapter.close()


async def _owner(store: SqlStore) -> UUID:
    async with store.transaction() as tx:
        return (await tx.users.ensure_user("local")).id


async def _ciphertext(store: SqlStore, bot_id: UUID) -> str:
    async with store.transaction() as tx:
        found = await tx.bots.get_bot(bot_id)
    assert found is not None
    return found[1]


class TestCredentials:
    @pytest.mark.parametrize(
        ("credentials", "field"),
        [
            ({"token": TELEGRAM["token"]}, "credentials.secret_token: required"),
            ({**TELEGRAM, "extra": "x"}, "credentials.extra: not a telegram credential"),
            ({**TELEGRAM, "secret_token": "has space"}, "credentials.secret_token: must be 1 to"),
            ({**TELEGRAM, "secret_token": "x" * 257}, "credentials.secret_token: must be 1 to"),
            ({**TELEGRAM, "token": "123:abc/../x"}, "credentials.token: must be a Bot API"),
            ({**TELEGRAM, "token": ""}, "credentials.token: must not be empty"),
            ({**TELEGRAM, "token": 42}, "credentials.token: must be a string"),
            ({**TELEGRAM, "token": "1:a\x00"}, "credentials.token: must not hold control"),
            ({**TELEGRAM, "token": " 1:a"}, "credentials.token: must not start or end"),
            (["token"], "credentials: a JSON object of telegram's fields: token, secret_token"),
        ],
    )
    def test_a_wrong_field_is_named(self, credentials: Any, field: str) -> None:
        with pytest.raises(InvalidInput, match=re.escape(field)):
            check_credentials(Platform.TELEGRAM, credentials)

    def test_the_shapes_of_ids_and_keys_are_checked(self) -> None:
        discord = {"application_id": "1234", "public_key": "ab" * 32, "bot_token": "t"}
        assert check_credentials(Platform.DISCORD, discord) == discord
        with pytest.raises(InvalidInput, match=r"credentials\.public_key: must be 64 hex"):
            check_credentials(Platform.DISCORD, {**discord, "public_key": "ab" * 31})
        with pytest.raises(InvalidInput, match=r"credentials\.application_id: must be digits"):
            check_credentials(Platform.DISCORD, {**discord, "application_id": "12/34"})
        whatsapp = {
            "access_token": "a",
            "app_secret": "b",
            "verify_token": "c",
            "phone_number_id": "1x",
        }
        with pytest.raises(InvalidInput, match=r"credentials\.phone_number_id: must be digits"):
            check_credentials(Platform.WHATSAPP, whatsapp)

    def test_webhook_url_is_relative_unless_a_public_url_is_set(self) -> None:
        bot_id = new_id()
        assert webhook_url(bot_id, None) == f"/v1/webhooks/{bot_id}"
        assert (
            webhook_url(bot_id, "https://b.example/x")
            == f"https://b.example/x/v1/webhooks/{bot_id}"
        )


class TestManager:
    async def test_credentials_are_stored_encrypted_and_read_back(self, store: SqlStore) -> None:
        bots = BotManager(store, Vault(store, [new_key()]))
        bot = await bots.create(
            owner_id=await _owner(store), platform="telegram", name=" helper ", credentials=TELEGRAM
        )
        assert bot.name == "helper"
        raw = await _ciphertext(store, bot.id)
        assert all(value not in raw for value in TELEGRAM.values())
        assert await bots.credentials(bot.id) == TELEGRAM
        with pytest.raises(NotFound):
            await bots.credentials(new_id())

    async def test_without_keys_no_credential_is_stored(self, store: SqlStore) -> None:
        bots = BotManager(store, None)
        with pytest.raises(NotConfigured, match="CHATORCH_SECRET_KEYS"):
            await bots.create(
                owner_id=await _owner(store), platform="slack", name="x", credentials={}
            )
        assert await bots.list_bots() == []

    async def test_updates_audit_the_fields_never_the_values(self, store: SqlStore) -> None:
        vault = Vault(store, [new_key()])
        bots = BotManager(store, vault)
        bot = await bots.create(
            owner_id=await _owner(store), platform="telegram", name="a", credentials=TELEGRAM
        )
        token = remember("987654321:AAHanother-unit-token_abcdefghijklmnop")
        updated = await bots.update(
            bot.id, credentials={**TELEGRAM, "token": token}, llm="builtin", tools=KEEP
        )
        assert updated.llm == "builtin"
        assert (await bots.credentials(bot.id))["token"] == token
        unchanged = await BotManager(store, None).update(bot.id, name="renamed", tools=["x"])
        assert (unchanged.name, unchanged.tools, unchanged.llm) == ("renamed", ["x"], "builtin")
        with pytest.raises(NotConfigured):
            await BotManager(store, None).update(bot.id, credentials=TELEGRAM)
        async with store.transaction() as tx:
            events = await tx.users.list_audit(limit=10, action="bot.")
        assert [e.action for e in events] == ["bot.updated", "bot.updated", "bot.created"]
        assert events[1].detail == {"fields": ["credentials", "llm"]}
        assert token not in str([e.detail for e in events])

    @pytest.mark.parametrize(
        ("llm", "problem"),
        [
            ("gemini:pro", "llm names unknown provider 'gemini'"),
            ("openai", "llm: 'openai' needs a model, e.g. openai:gpt-4o-mini"),
        ],
    )
    async def test_a_bots_chain_is_checked_like_the_servers(
        self, store: SqlStore, llm: str, problem: str
    ) -> None:
        bots = BotManager(store, Vault(store, [new_key()]))
        with pytest.raises(InvalidInput) as refused:
            await bots.create(
                owner_id=await _owner(store),
                platform="telegram",
                name="a",
                credentials=TELEGRAM,
                llm=llm,
            )
        assert refused.value.detail == problem


class TestRotation:
    async def test_rotation_re_encrypts_every_bot_with_the_secrets(self, store: SqlStore) -> None:
        old, new = new_key(), new_key()
        bot = await BotManager(store, Vault(store, [old])).create(
            owner_id=await _owner(store), platform="telegram", name="a", credentials=TELEGRAM
        )
        await Vault(store, [old]).put("openai_api_key", remember("sk-unit-rotated"))
        before = await _ciphertext(store, bot.id)
        assert await Vault(store, [new, old]).rotate() == 2
        assert await _ciphertext(store, bot.id) != before
        assert await BotManager(store, Vault(store, [new])).credentials(bot.id) == TELEGRAM

    async def test_credentials_under_an_unknown_key_change_nothing(self, store: SqlStore) -> None:
        bot = await BotManager(store, Vault(store, [new_key()])).create(
            owner_id=await _owner(store), platform="telegram", name="a", credentials=TELEGRAM
        )
        before = await _ciphertext(store, bot.id)
        with pytest.raises(InvalidInput, match="credentials was encrypted with a key not in"):
            await Vault(store, [new_key()]).rotate()
        assert await _ciphertext(store, bot.id) == before
