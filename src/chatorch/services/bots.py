"""BotManager: bots on Telegram, Slack, Discord, WhatsApp and Messenger, with their
credentials checked per platform and stored encrypted by the vault.

Credentials are a JSON object of the platform's fields (``CREDENTIALS``), sealed whole
with ``CHATORCH_SECRET_KEYS``: without those keys no credential is stored at all, never
in plaintext. They are decrypted only for the channel code (``credentials``), never
returned by the API and never written to the audit trail.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from chatorch.domain.entities import KEEP, AuditEvent, Bot, Keep, Platform
from chatorch.domain.errors import InvalidInput, NotConfigured, NotFound
from chatorch.domain.llm import check_chain
from chatorch.ports.store import Store, Transaction
from chatorch.services.prompts import check_name, known_template
from chatorch.services.secrets import Vault

WEBHOOK_PATH = "/v1/webhooks/{bot_id}"  # where a bot's platform posts its events
TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # as tools are named (adapters/tools/config.py)
MAX_NAME = 200  # characters
MAX_LLM = 500  # characters
MAX_TOOLS = 64
MAX_CREDENTIAL = 4096  # characters of one field

# One rule a field must meet beyond "non-empty text": the pattern and how to say it.
_Rule = tuple[re.Pattern[str], str] | None
_DIGITS = (re.compile(r"[0-9]{1,20}"), "digits only: the numeric id the platform shows")

# Each platform's credential fields, all required. A field that ends up in a URL path
# (Telegram's token, Discord's application id, WhatsApp's phone number id) is held to
# the platform's own shape, so it cannot change where a request goes.
CREDENTIALS: dict[Platform, dict[str, _Rule]] = {
    Platform.TELEGRAM: {
        "token": (
            re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}"),
            "a Bot API token from @BotFather, like 123456789:AAH…",
        ),
        "secret_token": (
            re.compile(r"[A-Za-z0-9_-]{1,256}"),
            "1 to 256 of A-Z a-z 0-9 _ - (Telegram's rule for a webhook's secret token)",
        ),
    },
    Platform.SLACK: {"bot_token": None, "signing_secret": None},
    Platform.DISCORD: {
        "application_id": _DIGITS,
        "public_key": (
            re.compile(r"[0-9A-Fa-f]{64}"),
            "64 hex digits: the application's 32-byte Ed25519 public key",
        ),
        "bot_token": None,
    },
    Platform.WHATSAPP: {
        "access_token": None,
        "app_secret": None,
        "verify_token": None,
        "phone_number_id": _DIGITS,
    },
    Platform.MESSENGER: {"page_access_token": None, "app_secret": None, "verify_token": None},
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOOL_NAME = re.compile(TOOL_NAME)


def webhook_url(bot_id: UUID, public_url: str | None) -> str:
    """The URL a bot's platform must call: absolute under ``CHATORCH_PUBLIC_URL`` when it
    is set, else the path on this server."""
    path = WEBHOOK_PATH.format(bot_id=bot_id)
    return path if public_url is None else public_url + path


def check_credentials(platform: Platform, credentials: Any) -> dict[str, str]:
    """The platform's credential fields, each checked; the first problem names its field.

    Raises:
        InvalidInput: a field missing, unknown or malformed.
    """
    fields = CREDENTIALS[platform]
    listed = ", ".join(fields)
    if not isinstance(credentials, Mapping):
        raise InvalidInput(f"credentials: a JSON object of {platform}'s fields: {listed}")
    for name in fields:
        if name not in credentials:
            raise InvalidInput(f"credentials.{name}: required for {platform} (fields: {listed})")
    for name in sorted(str(key) for key in credentials):
        if name not in fields:
            raise InvalidInput(
                f"credentials.{name}: not a {platform} credential (fields: {listed})"
            )
    return {name: _checked(name, credentials[name], rule) for name, rule in fields.items()}


def _checked(name: str, value: Any, rule: _Rule) -> str:
    problem = None
    if not isinstance(value, str):
        problem = "must be a string"
    elif not value:
        problem = "must not be empty"
    elif len(value) > MAX_CREDENTIAL:
        problem = f"at most {MAX_CREDENTIAL} characters"
    elif _CONTROL.search(value):
        problem = "must not hold control characters (NUL, line breaks, tabs)"
    elif value != value.strip():
        problem = "must not start or end with spaces"
    elif rule is not None and not rule[0].fullmatch(value):
        problem = f"must be {rule[1]}"
    if problem is not None:
        raise InvalidInput(f"credentials.{name}: {problem}")
    return str(value)


class BotManager:
    """Create, read, change and delete bots; every change is audited in its transaction."""

    def __init__(self, store: Store, vault: Vault | None) -> None:
        self._store = store
        self._vault = vault

    async def create(
        self,
        *,
        owner_id: UUID,
        platform: str,
        name: str,
        credentials: Any,
        llm: str | None = None,
        tools: Sequence[str] | None = None,
        prompt: str | None = None,
        actor: str = "cli",
    ) -> Bot:
        """Check, encrypt and store a new bot; ``prompt`` names the template of its
        system prompt (None: the server's ``system``).

        Raises:
            InvalidInput: a field is wrong; the detail names it.
            NotConfigured: no CHATORCH_SECRET_KEYS to encrypt the credentials with.
        """
        vault = self._sealer()
        kind = _platform(platform)
        bot = Bot(
            owner_id=owner_id,
            platform=kind,
            name=_name(name),
            llm=_llm(llm),
            tools=_tools(tools),
            prompt=None if prompt is None else check_name(prompt),
        )
        sealed = vault.seal(_dump(check_credentials(kind, credentials)))
        async with self._store.transaction() as tx:
            await _known(tx, bot.prompt)
            await tx.bots.add_bot(bot, sealed)
            await tx.users.add_audit(
                AuditEvent(
                    action="bot.created",
                    actor=actor,
                    target=str(bot.id),
                    detail={"platform": kind.value, "name": bot.name},
                )
            )
        return bot

    async def list_bots(self) -> Sequence[Bot]:
        """Every bot, newest first."""
        async with self._store.transaction() as tx:
            return await tx.bots.list_bots()

    async def get(self, bot_id: UUID) -> Bot:
        """Raises ``NotFound`` for an unknown bot."""
        async with self._store.transaction() as tx:
            found = await tx.bots.get_bot(bot_id)
        if found is None:
            raise NotFound(f"no bot {bot_id}")
        return found[0]

    async def update(
        self,
        bot_id: UUID,
        *,
        name: str | None = None,
        credentials: Any = None,
        llm: str | Keep | None = KEEP,
        tools: Sequence[str] | Keep | None = KEEP,
        prompt: str | Keep | None = KEEP,
        actor: str = "cli",
    ) -> Bot:
        """Change what is given: None (``name``, ``credentials``) or ``KEEP`` (``llm``,
        ``tools``, ``prompt``, where None means the server's) leaves a field as it is.

        Raises:
            NotFound: an unknown bot.
            InvalidInput: a field is wrong; the detail names it.
            NotConfigured: new credentials, and no CHATORCH_SECRET_KEYS.
        """
        vault = None if credentials is None else self._sealer()
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = _name(name)
        if not isinstance(llm, Keep):
            changes["llm"] = _llm(llm)
        if not isinstance(tools, Keep):
            changes["tools"] = _tools(tools)
        if not isinstance(prompt, Keep):
            changes["prompt"] = None if prompt is None else check_name(prompt)
        if not changes and vault is None:
            return await self.get(bot_id)  # nothing to change, nothing to audit
        async with self._store.transaction() as tx:
            found = await tx.bots.get_bot(bot_id)
            if found is None:
                raise NotFound(f"no bot {bot_id}")
            await _known(tx, changes.get("prompt"))
            if vault is not None:
                checked = check_credentials(found[0].platform, credentials)
                changes["ciphertext"] = vault.seal(_dump(checked))
            updated = await tx.bots.update_bot(bot_id, **changes)
            assert updated is not None  # read in this transaction
            fields = sorted("credentials" if key == "ciphertext" else key for key in changes)
            await tx.users.add_audit(
                AuditEvent(
                    action="bot.updated",
                    actor=actor,
                    target=str(bot_id),
                    detail={"fields": fields},
                )
            )
        return updated

    async def delete(self, bot_id: UUID, *, actor: str = "cli") -> Bot:
        """Delete a bot, its conversation links and its sends; the bot it was.

        Raises:
            NotFound: an unknown bot.
        """
        async with self._store.transaction() as tx:
            found = await tx.bots.get_bot(bot_id)
            if found is None or not await tx.bots.delete_bot(bot_id):
                raise NotFound(f"no bot {bot_id}")
            bot = found[0]
            await tx.users.add_audit(
                AuditEvent(
                    action="bot.deleted",
                    actor=actor,
                    target=str(bot_id),
                    detail={"platform": bot.platform.value, "name": bot.name},
                )
            )
        return bot

    async def credentials(self, bot_id: UUID) -> dict[str, str]:
        """The bot's credentials, decrypted: for the channel code, never for a response.

        Raises:
            NotFound: an unknown bot.
            NotConfigured: no CHATORCH_SECRET_KEYS.
            InvalidInput: no key of CHATORCH_SECRET_KEYS decrypts them.
        """
        vault = self._sealer()
        async with self._store.transaction() as tx:
            found = await tx.bots.get_bot(bot_id)
        if found is None:
            raise NotFound(f"no bot {bot_id}")
        opened = vault.unseal(found[1], what=f"bot {bot_id}'s credentials")
        fields: dict[str, str] = json.loads(opened)
        return fields

    def seal_reply(self, reply: Mapping[str, Any]) -> str:
        """Where an answer goes, encrypted for its question's metadata: it may hold a
        token (Discord's interaction token posts as the bot for 15 minutes)."""
        return self._sealer().seal(json.dumps(reply, separators=(",", ":")))

    def open_reply(self, sealed: str | Mapping[str, Any]) -> dict[str, Any]:
        """What ``seal_reply`` made (a mapping as it is: stored before replies were sealed).

        Raises:
            NotConfigured: no CHATORCH_SECRET_KEYS.
            InvalidInput: no key of CHATORCH_SECRET_KEYS decrypts it.
        """
        if not isinstance(sealed, str):
            return dict(sealed)
        opened: dict[str, Any] = json.loads(self._sealer().unseal(sealed, what="a reply address"))
        return opened

    def _sealer(self) -> Vault:
        if self._vault is None:
            raise NotConfigured(
                "set CHATORCH_SECRET_KEYS to store bots' credentials (they are encrypted)"
            )
        return self._vault


async def _known(tx: Transaction, prompt: str | None) -> None:
    if prompt is not None and not await known_template(tx, prompt):
        raise InvalidInput(f"prompt: no template named {prompt!r}; PUT /v1/prompts/{prompt} first")


def _dump(credentials: dict[str, str]) -> str:
    return json.dumps(credentials, separators=(",", ":"), sort_keys=True)


def _platform(platform: str) -> Platform:
    try:
        return Platform(platform)
    except ValueError:
        known = ", ".join(p.value for p in Platform)
        raise InvalidInput(f"platform: {platform!r} is not one of {known}") from None


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise InvalidInput(f"name: 1 to {MAX_NAME} characters, not blank, without NUL")
    return name


def _llm(chain: str | None) -> str | None:
    if chain is None:
        return None
    chain = chain.strip()
    if len(chain) > MAX_LLM or "\x00" in chain:
        raise InvalidInput(f"llm: at most {MAX_LLM} characters, without NUL")
    try:
        return check_chain(chain, name="llm")
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _tools(tools: Sequence[str] | None) -> list[str] | None:
    if tools is None:
        return None
    if isinstance(tools, str) or len(tools) > MAX_TOOLS:
        raise InvalidInput(f"tools: a list of at most {MAX_TOOLS} tool names")
    for index, tool in enumerate(tools):
        if not isinstance(tool, str) or not _TOOL_NAME.fullmatch(tool):
            raise InvalidInput(f"tools[{index}]: {tool!r} is not a tool name (A-Z a-z 0-9 _ -)")
    return list(dict.fromkeys(tools))  # in order, each once
