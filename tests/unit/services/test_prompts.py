"""The PromptManager: what the model is told, which template version said it, and how a
version added here or by another process reaches the next answer."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatorch.adapters.memory.bus import InMemoryBus
from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.domain.errors import InvalidInput, NotFound
from chatorch.services.prompts import RECHECK, PromptManager
from chatorch.services.templates import SUMMARY, SYSTEM, InvalidTemplate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/prompts.db"
    upgrade(url)
    adapter = await connect(url)
    yield adapter
    await adapter.close()


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestBuiltinSystemPrompt:
    def test_it_names_the_tools_and_the_date(self) -> None:
        prompt = PromptManager().system(tools=["calculator", "clock"])
        assert prompt.ref == "system@1"
        assert "You can call these tools when they help: calculator, clock." in prompt.text
        assert f"The current date is {datetime.now(UTC).date().isoformat()}." in prompt.text

    def test_without_tools_no_tool_line(self) -> None:
        assert "tools" not in PromptManager().system(tools=[]).text

    def test_a_summary_is_included_for_its_chat_only(self) -> None:
        prompts = PromptManager()
        summed = prompts.system(tools=[], summary="Ada asked about engines.")
        assert summed.text.endswith("Summary of the conversation so far:\nAda asked about engines.")
        assert "Summary" not in prompts.system(tools=[]).text

    def test_the_summary_template_keeps_what_matters_and_folds_the_old_summary_in(
        self,
    ) -> None:
        prompts = PromptManager()
        fresh = prompts.render("summary")
        assert fresh.ref == "summary@1"
        assert "Keep every name, number, date, decision and open question" in fresh.text
        assert "folded" not in fresh.text
        again = prompts.render("summary", summary="Ada wants 3 engines by May.")
        assert "folded into the new one:\nAda wants 3 engines by May." in again.text


class TestRegistered:
    def test_a_newer_template_is_used_from_the_next_prompt_on(self) -> None:
        prompts = PromptManager()
        assert prompts.system(tools=["clock"]).ref == "system@1"  # rendered and kept
        prompts.register("system", 2, "You are {{ assistant_name }}. {{ today }} {{ tools }}")
        newer = prompts.system(tools=["clock"])
        assert newer.ref == "system@2"
        assert newer.text.startswith("You are chatorch. ")

    def test_an_older_version_does_not_replace_a_newer_one(self) -> None:
        prompts = PromptManager()
        prompts.register("system", 0, "old {{ today }}")
        assert prompts.system(tools=[]).ref == "system@1"

    def test_a_template_reading_the_user_is_rendered_per_user(self) -> None:
        prompts = PromptManager()
        prompts.register("system", 2, "Hello {{ user or 'there' }} on {{ channel }}.")
        assert prompts.system(tools=[], user="7", channel="telegram").text == "Hello 7 on telegram."
        assert prompts.system(tools=[], user="9", channel="slack").text == "Hello 9 on slack."
        assert prompts.system(tools=[]).text == "Hello there on api."

    def test_a_template_that_fails_on_a_real_answer_gives_way_to_the_builtin(self) -> None:
        prompts = PromptManager()
        prompts.register("support", 2, "{% if user == 'ada' %}{{ missing }}{% endif %}Hi.")
        assert prompts.system(tools=[], name="support", user="bob").ref == "support@2"
        fallen = prompts.system(tools=[], name="support", user="ada")
        assert fallen.ref == "system@1"
        assert fallen.text.startswith("You are chatorch, a helpful assistant.")

    def test_an_unknown_name_renders_the_system_template(self) -> None:
        assert PromptManager().system(tools=[], name="nowhere").ref == "system@1"


class TestStored:
    async def test_builtins_exist_without_rows(self, store: SqlStore) -> None:
        prompts = PromptManager(store)
        listed = await prompts.catalogue()
        assert [(p.name, p.version, p.created_at) for p in listed] == [
            ("summary", 1, None),
            ("system", 1, None),
        ]
        assert (await prompts.current("system")).template == SYSTEM
        assert (await prompts.current("summary")).template == SUMMARY

    async def test_put_adds_version_2_used_by_the_next_answer(self, store: SqlStore) -> None:
        prompts = PromptManager(store)
        prompts.system(tools=[])  # rendered and kept
        added = await prompts.put("system", "Be brief. {{ today }}", actor="ada")
        assert (added.name, added.version) == ("system", 2)
        assert added.created_at is not None
        assert prompts.system(tools=[]).ref == "system@2"
        assert prompts.system(tools=[]).text.startswith("Be brief. 20")
        versions = await prompts.versions("system")
        assert [v.version for v in versions] == [2, 1]
        assert versions[-1].template == SYSTEM
        async with store.transaction() as tx:
            (audited,) = await tx.users.list_audit(limit=5, action="prompt.")
        assert (audited.actor, audited.target, audited.detail) == ("ada", "system", {"version": 2})

    async def test_a_new_name_starts_at_2_and_is_listed(self, store: SqlStore) -> None:
        prompts = PromptManager(store)
        added = await prompts.put("support-de", "Antworte auf Deutsch.")
        assert added.version == 2
        assert [p.name for p in await prompts.catalogue()] == ["summary", "support-de", "system"]
        assert [v.version for v in await prompts.versions("support-de")] == [2]

    async def test_a_bad_template_or_name_stores_nothing(self, store: SqlStore) -> None:
        prompts = PromptManager(store)
        with pytest.raises(InvalidTemplate, match="line 2: 'nope' is undefined"):
            await prompts.put("system", "fine\n{{ nope }}")
        with pytest.raises(InvalidInput, match="not a template name"):
            await prompts.put("System Prompt", "fine")
        assert [v.version for v in await prompts.versions("system")] == [1]
        assert prompts.system(tools=[]).ref == "system@1"

    async def test_unknown_names_are_not_found(self, store: SqlStore) -> None:
        prompts = PromptManager(store)
        with pytest.raises(NotFound):
            await prompts.current("support")
        with pytest.raises(NotFound):
            await prompts.versions("support")


class TestAcrossProcesses:
    """Two managers on one database: the processes of one deployment."""

    async def test_a_version_added_elsewhere_is_used_once_recheck_has_passed(
        self, store: SqlStore
    ) -> None:
        clock = Clock()
        here, elsewhere = PromptManager(store, clock=clock), PromptManager(store)
        await here.load()
        await elsewhere.put("system", "Version two. {{ today }}")
        await here.refresh("system")
        assert here.system(tools=[]).ref == "system@1"  # looked less than RECHECK ago
        clock.now += RECHECK
        await here.refresh("system")
        assert here.system(tools=[]).ref == "system@2"
        assert here.system(tools=[]).text.startswith("Version two.")

    async def test_answers_at_once_all_use_what_the_look_found(self, store: SqlStore) -> None:
        clock = Clock()
        here, elsewhere = PromptManager(store, clock=clock), PromptManager(store)
        await here.load()
        await elsewhere.put("system", "Version two.")
        clock.now += RECHECK

        async def answer() -> str:
            await here.refresh("system")
            return here.system(tools=[]).ref

        assert await asyncio.gather(*(answer() for _ in range(5))) == ["system@2"] * 5

    async def test_a_name_not_known_here_is_looked_for_at_once(self, store: SqlStore) -> None:
        clock = Clock()
        here, elsewhere = PromptManager(store, clock=clock), PromptManager(store)
        await here.load()
        await elsewhere.put("support", "Orders only.")
        await here.refresh("support")  # a bot names it: no waiting for RECHECK
        assert here.system(tools=[], name="support").ref == "support@2"

    async def test_load_reads_every_stored_name(self, store: SqlStore) -> None:
        writer = PromptManager(store)
        await writer.put("system", "Two.")
        await writer.put("system", "Three.")
        await writer.put("support", "Orders.")
        started = PromptManager(store)
        await started.load()
        assert started.system(tools=[]).ref == "system@3"
        assert started.system(tools=[], name="support").text == "Orders."


class TestAnnounced:
    async def test_a_version_announced_on_the_bus_is_used_at_once_by_another_process(
        self, store: SqlStore
    ) -> None:
        bus = InMemoryBus()  # the one bus both processes share
        clock = Clock()
        here = PromptManager(store, bus=bus, recheck=3600, clock=clock)
        there = PromptManager(store, bus=bus, recheck=3600, clock=clock)
        await here.load()
        await there.load()
        await there.refresh("system")  # looked just now: an hour before the next look
        await here.put("system", "Announced. {{ today }}")
        await there.refresh("system")
        assert there.system(tools=[]).ref == "system@2"
        await bus.close()

    async def test_without_the_bus_another_process_waits_for_its_next_look(
        self, store: SqlStore
    ) -> None:
        clock = Clock()
        here = PromptManager(store, recheck=3600, clock=clock)
        there = PromptManager(store, recheck=3600, clock=clock)
        await here.load()
        await there.load()
        await here.put("system", "Not announced. {{ today }}")
        await there.refresh("system")
        assert there.system(tools=[]).ref == "system@1"
        clock.now += 3600
        await there.refresh("system")
        assert there.system(tools=[]).ref == "system@2"
