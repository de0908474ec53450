"""PromptManager: named, versioned templates, stored, kept in memory and rendered with
the context of an answer.

The name and version of every template used go into the answer's metadata, so an
answer can always be traced to the exact prompt that produced it.

Rendering is on every answer's path, so the current version of each name lives in this
process, compiled. A version added here is used from the next answer on, and announced
on the bus (``ANNOUNCED``): every other process then looks at the store before its next
answer. An announcement a process misses (it was reconnecting) is made up within
``RECHECK`` seconds: the first answer after that long compares the store's cheap
``stamp`` with the one read last, and reads the templates again only when it changed
(ADR 0018). Only the answers that start during that look wait for the store.
"""

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from chatorch.domain.entities import AuditEvent, PromptVersion
from chatorch.domain.errors import BusUnavailable, InvalidInput, NotFound, StoreUnavailable
from chatorch.ports.bus import Bus
from chatorch.ports.store import Store, Transaction
from chatorch.services.templates import (
    BUILTIN,
    BUILTIN_VERSION,
    NAME_PATTERN,
    VARIABLES,
    Compiled,
    InvalidTemplate,
    check,
    compile_template,
    render,
)

log = structlog.get_logger(__name__)

RECHECK = 1.0  # s a process may use a template after another process replaced it
ANNOUNCED = "prompts"  # the bus topic of a new version
_SYSTEMS_KEPT = 64  # rendered system prompts kept; past it, all are dropped
_NAME = re.compile(NAME_PATTERN)
_BUILTINS = {name: compile_template(source) for name, source in BUILTIN.items()}


@dataclass(slots=True, frozen=True)
class Prompt:
    name: str
    version: int
    text: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(slots=True, frozen=True)
class _Current:
    version: int
    compiled: Compiled


def check_name(name: str) -> str:
    """``name`` if it can name a template.

    Raises:
        InvalidInput: not 1 to 64 of a-z 0-9 _ -.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(f"prompt: {name!r} is not a template name (1 to 64 of a-z 0-9 _ -)")
    return name


class PromptManager:
    """The templates: read and add versions (``put``), render the current ones.

    Without a store, only the built-in templates and those ``register``ed exist.
    ``clock`` (s, monotonic) decides when ``RECHECK`` has passed.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        bus: Bus | None = None,
        recheck: float = RECHECK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``bus``: where new versions are announced to the other processes."""
        self._store, self._bus = store, bus
        if bus is not None:
            bus.on_announce(self._heard)
        self._recheck, self._clock = recheck, clock
        self._current = {name: _Current(BUILTIN_VERSION, c) for name, c in _BUILTINS.items()}
        # System prompts without a summary, by (name, tools, day, user, channel): the
        # same for most answers.
        self._systems: dict[tuple[str, tuple[str, ...], str, str, str], Prompt] = {}
        self._stamp: str | None = None  # the store's stamp when its templates were read
        self._due = 0.0  # when the store is next looked at
        self._unknown_due = 0.0  # when a name this process lacks may be looked for next
        self._reading = asyncio.Lock()
        self._looking: asyncio.Future[None] | None = None  # the look under way

    # ---- the stored versions ------------------------------------------------------------

    async def put(self, name: str, template: str, *, actor: str = "cli") -> PromptVersion:
        """Check ``template`` and store it as the next version of ``name``; this process
        uses it from its next answer on.

        Raises:
            InvalidInput: a bad name.
            InvalidTemplate: it does not compile, or does not render with a sample
                context; the detail says why and on which line.
        """
        check_name(name)
        compiled = check(template)
        async with self._stored().transaction() as tx:
            added = await tx.prompts.add_version(name, template)
            await tx.users.add_audit(
                AuditEvent(
                    action="prompt.version_added",
                    actor=actor,
                    target=name,
                    detail={"version": added.version},
                )
            )
        self._install(name, added.version, compiled)
        if self._bus is not None:
            try:
                await self._bus.announce(ANNOUNCED)
            except BusUnavailable as error:  # the others notice within RECHECK anyway
                log.warning("prompts.not_announced", detail=error.detail)
        return added

    def _heard(self, topic: str) -> None:
        """Another process added a version: look at the store before the next answer."""
        if topic == ANNOUNCED:
            self._due = 0.0

    async def current(self, name: str) -> PromptVersion:
        """The version answers use now, as the store says.

        Raises:
            NotFound: no template of that name.
        """
        async with self._stored().transaction() as tx:
            found = await tx.prompts.current(check_name(name))
        if found is None:
            found = _builtin(name)
        if found is None:
            raise NotFound(f"no prompt template named {name!r}")
        return found

    async def versions(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, newest first, the built-in one last.

        Raises:
            NotFound: no template of that name.
        """
        async with self._stored().transaction() as tx:
            found = list(await tx.prompts.versions(check_name(name)))
        if (builtin := _builtin(name)) is not None:
            found.append(builtin)
        if not found:
            raise NotFound(f"no prompt template named {name!r}")
        return found

    async def catalogue(self) -> list[PromptVersion]:
        """The current version of every name, by name."""
        async with self._stored().transaction() as tx:
            stored = {found.name: found for found in await tx.prompts.latest()}
        builtins = (_builtin(name) for name in BUILTIN if name not in stored)
        every = [*stored.values(), *(found for found in builtins if found is not None)]
        return sorted(every, key=lambda found: found.name)

    def _stored(self) -> Store:
        if self._store is None:
            raise RuntimeError("this PromptManager has no store")
        return self._store

    # ---- keeping this process's templates current ----------------------------------

    async def load(self) -> None:
        """Read the current version of every stored name (at start, or when told)."""
        self._due = self._clock() + self._recheck
        async with self._reading:
            self._stamp = None
            await self._read()

    async def refresh(self, *names: str) -> None:
        """Before an answer: nothing, unless ``RECHECK`` has passed since the store was
        last looked at, or one of ``names`` is unknown here. Then one look at the
        store's stamp, and the templates read again only if it changed; the answers
        that come while the look is under way wait for it too, so none started after
        ``RECHECK`` uses a version older than the look found.

        A store that does not answer leaves the templates as they are.
        """
        if self._store is None:
            return
        if self._looking is None:
            now = self._clock()
            unknown = now >= self._unknown_due and any(n not in self._current for n in names)
            if now < self._due and not unknown:
                return
            self._due = now + self._recheck
            if unknown:
                self._unknown_due = now + self._recheck
            self._looking = asyncio.ensure_future(self._look())
        # Shielded: an answer cancelled while waiting leaves the look to the others.
        await asyncio.shield(self._looking)

    async def _look(self) -> None:
        try:
            async with self._reading:
                await self._read()
        except StoreUnavailable as error:
            log.warning("prompts.not_refreshed", detail=error.detail)
        except Exception:  # an answer never fails for its prompt
            log.exception("prompts.refresh_failed")
        finally:
            self._looking = None

    async def _read(self) -> None:
        async with self._stored().transaction() as tx:
            stamp = await tx.prompts.stamp()
            if stamp == self._stamp:
                return
            latest = await tx.prompts.latest()
        for found in latest:
            known = self._current.get(found.name)
            if known is not None and known.version >= found.version:
                continue
            try:
                self._install(found.name, found.version, compile_template(found.template))
            except InvalidTemplate as error:  # valid once, and not to this version of Jinja
                log.warning("prompts.unusable", prompt=_ref(found), detail=error.detail)
        self._stamp = stamp

    def register(self, name: str, version: int, source: str) -> None:
        """Use ``source`` as ``name``'s template unless a higher version is in use.

        Raises:
            InvalidTemplate: it does not compile.
        """
        self._install(name, version, compile_template(source))

    def _install(self, name: str, version: int, compiled: Compiled) -> None:
        known = self._current.get(name)
        if known is None or version >= known.version:
            self._current[name] = _Current(version, compiled)
            self._systems.clear()

    # ---- rendering -------------------------------------------------------------------

    def render(self, name: str, **context: Any) -> Prompt:
        """``name``'s current template rendered with ``context`` (``VARIABLES`` gives
        what it leaves out). A template that fails is replaced by the built-in one (of
        its name, or ``system``), and logged: an answer never fails for its prompt."""
        today = datetime.now(UTC).date().isoformat()
        values = {**VARIABLES, "today": today, "date": today, **context}
        current = self._current.get(name)
        if current is None:
            log.warning("prompts.unknown", prompt=name)
            name, current = "system", self._current["system"]
        try:
            return Prompt(name, current.version, render(current.compiled, values))
        except InvalidTemplate as error:
            if current.version == BUILTIN_VERSION and name in BUILTIN:
                raise  # chatorch's own template failed: a bug, not an operator's mistake
            log.warning(
                "prompts.render_failed", prompt=f"{name}@{current.version}", detail=error.detail
            )
            fallback = name if name in BUILTIN else "system"
            return Prompt(fallback, BUILTIN_VERSION, render(_BUILTINS[fallback], values))

    def system(
        self,
        *,
        tools: Sequence[str],
        summary: str = "",
        name: str = "system",
        user: str = "",
        channel: str = "api",
    ) -> Prompt:
        """The system prompt for an answer, from template ``name``. Rendered once per
        set of tools and day (a render costs about 1% of an answer's CPU), and per user
        and channel only for a template that reads them; with a chat's summary, each time."""
        today = datetime.now(UTC).date().isoformat()
        current = self._current.get(name)
        uses = frozenset() if current is None else current.compiled.uses
        key = (
            name,
            tuple(tools),
            today,
            user if "user" in uses else "",
            channel if "channel" in uses else "",
        )
        kept = not (summary and "summary" in uses)
        if kept and (known := self._systems.get(key)) is not None:
            return known
        prompt = self.render(name, tools=list(tools), summary=summary, user=user, channel=channel)
        if kept:
            if len(self._systems) >= _SYSTEMS_KEPT:  # a new day, or tools that changed
                self._systems.clear()
            self._systems[key] = prompt
        return prompt


async def known_template(tx: Transaction, name: str) -> bool:
    """Whether a template of that name exists: a built-in one, or one stored."""
    return name in BUILTIN or await tx.prompts.current(name) is not None


def _builtin(name: str) -> PromptVersion | None:
    source = BUILTIN.get(name)
    return None if source is None else PromptVersion(name, BUILTIN_VERSION, source)


def _ref(found: PromptVersion) -> str:
    return f"{found.name}@{found.version}"
