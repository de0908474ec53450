"""`chatorch doctor`: every part the server needs, built as the server builds it, asked
whether it works — each answer one line with what to fix.

The parts are made by the same builders ``assemble`` uses (so a failure names the same
setting as a failed start would), then released: nothing keeps running. Independent
checks run at once, each within ``CHECK_TIMEOUT``; the providers are probed together
(``services.probes``), and one that is down is only a warning while another of the chain
answers, since answers fall back to it.
"""

import asyncio
import ipaddress
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from chatorch.domain.embeddings import SETTING as EMBEDDINGS_SETTING
from chatorch.domain.embeddings import parse_embeddings
from chatorch.domain.errors import InvalidInput
from chatorch.ports.embeddings import Embedder
from chatorch.ports.store import Store
from chatorch.services.probes import ProviderHealth, probe_chain
from chatorch.services.secrets import Vault
from chatorch.settings import Settings
from chatorch.wiring.artifacts import build_blobs
from chatorch.wiring.bus import build_bus, build_cache_and_registry, in_process
from chatorch.wiring.llm import _provider_key, chain_providers
from chatorch.wiring.startup import StartupError, connecting
from chatorch.wiring.store import build_store, vault_for
from chatorch.wiring.vectors import VECTOR_TIMEOUT, _embedder, vector_location

CHECK_TIMEOUT = 20.0  # s for one check (loading the embedding model takes a few)
Verdict = Literal["ok", "warn", "fail"]
# The order of the lines: the backing services first, then what runs on them.
ORDER = [
    "database",
    "bus",
    "cache",
    "blobs",
    "embeddings",
    "vectors",
    "llm",
    "tools",
    "secrets",
    "auth",
]
# What to look at when a provider fails: its key when it refused the key, else its URL.
_KEY_SETTING = {"openai": "CHATORCH_OPENAI_API_KEY", "anthropic": "CHATORCH_ANTHROPIC_API_KEY"}
_URL_SETTING = {"openai": "CHATORCH_OPENAI_BASE_URL", "anthropic": "CHATORCH_ANTHROPIC_BASE_URL"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    verdict: Verdict
    detail: str


Run = Callable[[], Awaitable[Sequence[Check]]]


async def diagnose(settings: Settings, *, host: str | None = None) -> list[Check]:
    """Every check, in a fixed order; ``host`` is the address `serve` would bind."""
    async with AsyncExitStack() as stack:
        groups = await asyncio.gather(
            _guarded("database", lambda: _with_store(settings, stack)),
            _guarded("bus", lambda: _bus(settings, stack)),
            _guarded("cache", lambda: _cache(settings, stack)),
            _guarded("blobs", lambda: _blobs(settings, stack)),
            _guarded("tools", lambda: _tools(settings)),
        )
    found = [check for group in groups for check in group]
    found.append(_auth(settings, host or settings.host))
    return sorted(found, key=lambda check: ORDER.index(check.name.split()[0]))


async def _guarded(name: str, run: Run) -> Sequence[Check]:
    """``run``'s checks; a failure it did not expect, or a hang, is a failed check."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await run()
    except TimeoutError:
        return [Check(name, "fail", f"no answer within {CHECK_TIMEOUT:g} s")]
    except StartupError as error:
        return [Check(name, "fail", str(error))]
    except Exception as error:  # a driver's own error: its first line says what it is
        said = (str(error).strip().splitlines() or [""])[0]
        return [Check(name, "fail", f"{type(error).__name__}: {said}")]


# --- database, and what lives in it -----------------------------------------------


async def _with_store(settings: Settings, stack: AsyncExitStack) -> Sequence[Check]:
    """The database; then, on it, the stored secrets, the providers and the vectors."""
    try:
        store = await build_store(settings, stack, migrated=False)
    except StartupError as error:
        said = f"{error} (at {shown(settings.database_url)})"
        return [Check("database", "fail", said), _UNCHECKED_LLM]
    database, at_head = await _migrated(settings)
    vault = vault_for(settings, store)
    tables = store if at_head else None  # stored keys, bots: only in a migrated database
    runs = [
        _guarded("llm", lambda: _providers(settings, stack, tables, vault)),
        _guarded("embeddings", lambda: _retrieval(settings, stack, tables, vault)),
    ]
    if tables is not None:
        runs.append(_guarded("secrets", lambda: _secrets(settings, tables, vault)))
    groups = await asyncio.gather(*runs)
    return [database, *(check for group in groups for check in group)]


_UNCHECKED_LLM = Check("llm", "fail", "not checked: the providers' stored keys need the database")


async def _migrated(settings: Settings) -> tuple[Check, bool]:
    """Whether the schema is the one this version of chatorch expects (Alembic's head)."""
    from alembic.script import ScriptDirectory

    from chatorch.adapters.sql import migrate

    url = settings.database_url
    current = await asyncio.to_thread(migrate.current, url)
    heads = ScriptDirectory.from_config(migrate.config(url)).get_heads()
    where = shown(url)
    if current in heads:
        said = f"{where}: reachable, schema at {current} (the latest)"
        return Check("database", "ok", said), True
    if current is None or current in _older(migrate.config(url)):
        at = "empty" if current is None else f"at {current}, older than {', '.join(heads)}"
        fix = "run `chatorch migrate`"
        if in_process(settings):  # `chatorch serve` migrates its own database on start
            said = f"{where}: schema {at}; {fix} (`chatorch serve` also does it on start)"
            return Check("database", "warn", said), False
        said = f"CHATORCH_DATABASE_URL: {where}: schema {at}; {fix}"
        return Check("database", "fail", said), False
    said = (
        f"CHATORCH_DATABASE_URL: {where}: schema at {current}, which this chatorch does not "
        "know: a newer version migrated it; run that version, or `chatorch migrate "
        "--downgrade` with it"
    )
    return Check("database", "fail", said), False


def _older(config: object) -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    assert isinstance(config, Config)
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


async def _secrets(settings: Settings, store: Store, vault: Vault | None) -> Sequence[Check]:
    """Bots' credentials are stored encrypted: they need the keys that decrypt them."""
    async with store.transaction() as tx:
        sealed = list(await tx.bots.bot_ciphertexts())
        stored = list(await tx.secrets.secret_names())
    if not sealed and not stored:
        said = "set" if vault is not None else "not set (nothing stored needs it)"
        return [Check("secrets", "ok", f"CHATORCH_SECRET_KEYS {said}")]
    what = f"{len(sealed)} bot(s) and {len(stored)} stored secret(s)"
    if vault is None:
        return [
            Check(
                "secrets",
                "fail" if sealed else "warn",
                f"CHATORCH_SECRET_KEYS is not set, but {what} are stored encrypted: set it "
                "to the key(s) they were stored with",
            )
        ]
    for bot_id, ciphertext in sealed:
        try:
            vault.unseal(ciphertext, what=f"the credentials of bot {bot_id}")
        except InvalidInput as error:
            return [Check("secrets", "fail", f"CHATORCH_SECRET_KEYS: {error.detail}")]
    return [Check("secrets", "ok", f"CHATORCH_SECRET_KEYS decrypts the {what}")]


async def _providers(
    settings: Settings, stack: AsyncExitStack, store: Store | None, vault: Vault | None
) -> Sequence[Check]:
    """Every provider of CHATORCH_LLM: failed only when none of them answers."""
    providers = await chain_providers(settings, stack, store=store, vault=vault)
    chain = await probe_chain(providers)
    return [_provider_check(p, answering=chain.answering) for p in chain.providers]


def _provider_check(health: ProviderHealth, *, answering: bool) -> Check:
    name = f"llm {health.name}"
    if health.ok:
        return Check(name, "ok", f"{health.detail} ({health.latency_ms:.0f} ms)")
    kind = health.name.partition(":")[0]
    if health.status in (401, 403):
        fix = f"check {_KEY_SETTING.get(kind, 'its key')} (or the stored {kind}_api_key)"
    else:
        fix = f"check {_URL_SETTING.get(kind, 'its URL')} and that the server runs"
    if answering:
        return Check(
            name,
            "warn",
            f"{health.detail}; {fix} — another provider of "
            "CHATORCH_LLM answers, so answers fall back to it",
        )
    return Check(
        name,
        "fail",
        f"{health.detail}; {fix} — no provider of CHATORCH_LLM answers, so no answer can be made",
    )


async def _retrieval(
    settings: Settings, stack: AsyncExitStack, store: Store | None, vault: Vault | None
) -> Sequence[Check]:
    """The embedder (its model loaded, or its endpoint asked) and the vector index."""
    try:
        location = vector_location(settings)
    except StartupError as error:
        return [Check("vectors", "fail", str(error))]
    if location is None:
        return [
            Check(
                "vectors",
                "warn",
                "CHATORCH_VECTOR_URL is not set and work is shared through NATS: files are "
                "searched by full text only (set it to a Qdrant server for meaning too)",
            )
        ]
    try:
        choice = parse_embeddings(settings.embeddings)
    except ValueError as error:
        return [Check("embeddings", "fail", str(error))]
    key = None
    if choice.provider == "openai":
        key = await _provider_key(settings.openai_api_key, vault, "openai_api_key", store=store)
    embedder = await connecting(EMBEDDINGS_SETTING, _embedder(settings, choice, api_key=key))
    stack.push_async_callback(embedder.close)
    await connecting(EMBEDDINGS_SETTING, embedder.embed(["chatorch doctor"]))
    embeddings = Check("embeddings", "ok", f"{embedder.name}: loaded, {embedder.dimension} numbers")
    try:
        vectors = await _vectors(settings, location, embedder)
    except StartupError as error:
        vectors = Check("vectors", "fail", str(error))
    return [embeddings, vectors]


async def _vectors(settings: Settings, location: str, embedder: Embedder) -> Check:
    if urlsplit(location).scheme == "local":
        # Not opened: local mode locks its folder, and a running `serve` holds it.
        folder, writable = await asyncio.to_thread(_writable_folder, location)
        if not writable:
            return Check("vectors", "fail", f"CHATORCH_VECTOR_URL: cannot write to {folder}")
        return Check("vectors", "ok", f"Qdrant local mode in {folder} (writable)")
    from chatorch.adapters.qdrant.vectors import QdrantVectorIndex, collection_for

    vector_key = settings.vector_api_key
    index = await connecting(
        "CHATORCH_VECTOR_URL",
        QdrantVectorIndex.connect(
            location,
            collection=collection_for(settings.namespace, embedder.name, embedder.dimension),
            dimension=embedder.dimension,
            api_key=vector_key.get_secret_value() if vector_key else None,
            timeout=VECTOR_TIMEOUT,
        ),
    )
    try:
        await connecting("CHATORCH_VECTOR_URL", index.ping())
    finally:
        await index.close()
    return Check("vectors", "ok", f"Qdrant at {shown(location)}: collection ready")


def _writable_folder(location: str) -> tuple[Path, bool]:
    """The folder of a ``local:`` location, and whether chatorch can write there."""
    folder = Path(location.removeprefix("local:")).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return folder, False
    return folder, os.access(folder, os.W_OK | os.X_OK)


# --- the other backing services ---------------------------------------------------


async def _bus(settings: Settings, stack: AsyncExitStack) -> Sequence[Check]:
    if in_process(settings):
        return [Check("bus", "ok", "in-process (memory://): one process does all the work")]
    from chatorch.adapters.nats.bus import NatsBus

    bus = await build_bus(settings, stack, pod_id="doctor")
    assert isinstance(bus, NatsBus)
    await connecting("CHATORCH_BUS_URL", bus.client.jetstream().account_info())
    return [
        Check(
            "bus",
            "ok",
            f"NATS at {shown(settings.bus_url)}: JetStream enabled, the streams of "
            f"namespace {settings.namespace!r} ready",
        )
    ]


async def _cache(settings: Settings, stack: AsyncExitStack) -> Sequence[Check]:
    await build_cache_and_registry(settings, stack)  # PING, naming CHATORCH_CACHE_URL
    if urlsplit(settings.cache_url).scheme == "memory":
        return [Check("cache", "ok", "in-process (memory://): cache and sessions in one process")]
    return [Check("cache", "ok", f"Redis at {shown(settings.cache_url)}: answers PING")]


async def _blobs(settings: Settings, stack: AsyncExitStack) -> Sequence[Check]:
    blobs = build_blobs(settings, stack)
    await connecting("CHATORCH_BLOB_URL", blobs.ping())
    return [Check("blobs", "ok", f"{shown(settings.blob_url)}: writable")]


async def _tools(settings: Settings) -> Sequence[Check]:
    """The tools file parsed and its MCP servers connected, as a worker does at start
    (HTTP tools are not called: a call may do something)."""
    if not settings.tools_file:
        return [Check("tools", "ok", "built-in tools only (CHATORCH_TOOLS_FILE is not set)")]
    from chatorch.adapters.tools import ToolConfigError, load_tools

    async with AsyncExitStack() as stack, httpx.AsyncClient() as http:
        try:
            tools = await load_tools(settings.tools_file, stack=stack, http=http)
        except (ToolConfigError, OSError) as error:
            return [Check("tools", "fail", f"CHATORCH_TOOLS_FILE: {error}")]
        names = ", ".join(tool.spec.name for tool in tools) or "none"
    return [Check("tools", "ok", f"{settings.tools_file}: {len(tools)} tool(s): {names}")]


def _auth(settings: Settings, host: str) -> Check:
    """`serve` refuses to open an unauthenticated API beyond this machine."""
    if settings.auth_required:
        return Check("auth", "ok", "API keys or tokens are required")
    bare = host.strip("[]")
    try:
        loopback = bare == "localhost" or ipaddress.ip_address(bare).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return Check("auth", "ok", f"off: every request is the local user, on {host} only")
    return Check(
        "auth",
        "fail",
        f"CHATORCH_AUTH_REQUIRED is false and the address is {host}: anyone could read "
        "every chat, so `serve` refuses to start; set CHATORCH_AUTH_REQUIRED=true, or "
        "bind to 127.0.0.1",
    )


def shown(url: str) -> str:
    """``url`` without its password, to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
