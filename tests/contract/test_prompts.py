"""The PromptRepository contract: versions numbered from 2 per name, never lost to a
race, read back newest first, and a stamp that changes with every version added."""

import asyncio

from chatorch.domain.entities import PromptVersion
from chatorch.ports.store import Store


async def _add(store: Store, name: str, template: str) -> PromptVersion:
    async with store.transaction() as tx:
        return await tx.prompts.add_version(name, template)


class TestVersions:
    async def test_versions_start_at_2_and_count_per_name(self, store: Store) -> None:
        first = await _add(store, "system", "You are {{ assistant_name }}.")
        other = await _add(store, "support", "Help with orders.")
        second = await _add(store, "system", "You are terse.")
        assert (first.name, first.version) == ("system", 2)
        assert (other.name, other.version) == ("support", 2)
        assert (second.name, second.version) == ("system", 3)
        assert first.created_at is not None
        assert second.created_at is not None
        assert first.created_at <= second.created_at

    async def test_current_and_versions_read_back_what_was_added(self, store: Store) -> None:
        added = [await _add(store, "system", f"version text {n}") for n in range(3)]
        async with store.transaction() as tx:
            assert await tx.prompts.current("system") == added[-1]
            assert list(await tx.prompts.versions("system")) == added[::-1]
            assert await tx.prompts.current("unknown") is None
            assert list(await tx.prompts.versions("unknown")) == []

    async def test_latest_is_the_highest_version_of_each_name(self, store: Store) -> None:
        await _add(store, "system", "old")
        newest_system = await _add(store, "system", "new")
        summary = await _add(store, "summary", "sum up")
        async with store.transaction() as tx:
            assert list(await tx.prompts.latest()) == [summary, newest_system]

    async def test_text_is_kept_exactly(self, store: Store) -> None:
        text = "Línea 1 — ünïcode ✓\n{% if tools %}\n  {{ tools | join(', ') }}\n{% endif %}\n"
        await _add(store, "system", text)
        async with store.transaction() as tx:
            found = await tx.prompts.current("system")
        assert found is not None
        assert found.template == text

    async def test_a_rolled_back_version_leaves_nothing(self, store: Store) -> None:
        try:
            async with store.transaction() as tx:
                await tx.prompts.add_version("system", "abandoned")
                raise LookupError("abandon")
        except LookupError:
            pass
        async with store.transaction() as tx:
            assert await tx.prompts.current("system") is None
        assert (await _add(store, "system", "kept")).version == 2


class TestRaces:
    async def test_writers_at_once_each_get_a_version_of_their_own(self, store: Store) -> None:
        texts = [f"racer {n}" for n in range(6)]
        added = await asyncio.gather(*(_add(store, "system", text) for text in texts))
        assert sorted(found.version for found in added) == [2, 3, 4, 5, 6, 7]
        async with store.transaction() as tx:
            stored = await tx.prompts.versions("system")
        assert sorted(found.template for found in stored) == texts


class TestStamp:
    async def test_the_stamp_changes_with_every_version_and_only_then(self, store: Store) -> None:
        async with store.transaction() as tx:
            empty = await tx.prompts.stamp()
            assert await tx.prompts.stamp() == empty
        await _add(store, "system", "one")
        async with store.transaction() as tx:
            one = await tx.prompts.stamp()
        await _add(store, "other", "two")
        async with store.transaction() as tx:
            two = await tx.prompts.stamp()
            assert await tx.prompts.stamp() == two
        assert len({empty, one, two}) == 3
