"""The FileRepository contract: file metadata, chunks and chat links, on every store."""

import asyncio
from uuid import UUID

from chatorch.domain.entities import FileChunk, FileMeta, FileStatus, User
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from tests.contract import records as make


def _file(owner: User | UUID, sha256: str = "a" * 64, name: str = "a.txt") -> FileMeta:
    owner_id = owner.id if isinstance(owner, User) else owner
    return FileMeta(owner_id=owner_id, name=name, media_type="text/plain", size=3, sha256=sha256)


def _chunks(file: FileMeta, count: int) -> list[FileChunk]:
    return [
        FileChunk(file_id=file.id, number=n, text=f"passage {n}", page=n + 1, heading="A > B")
        for n in range(count)
    ]


async def _added(store: Store, file: FileMeta) -> FileMeta:
    async with store.transaction() as tx:
        return await tx.files.add_file(file)


class TestFiles:
    async def test_add_and_get(self, store: Store) -> None:
        chat = await make.chat(store)
        loose = FileMeta(
            owner_id=chat.owner_id, name="a.txt", media_type="text/plain", size=3, sha256="0" * 64
        )
        attached = FileMeta(
            owner_id=chat.owner_id,
            chat_id=chat.id,
            name="big.bin",
            media_type="application/octet-stream",
            size=5 * 2**32,  # past 32 bits
            sha256="f" * 64,
        )
        async with store.transaction() as tx:
            assert await tx.files.add_file(loose) == loose
            await tx.files.add_file(attached)
        async with store.transaction() as tx:
            assert await tx.files.get_file(loose.id) == loose
            assert await tx.files.get_file(attached.id) == attached
            assert await tx.files.get_file(new_id()) is None
        assert loose.status is FileStatus.PROCESSING
        assert loose.error is None


class TestOneCopyPerOwner:
    async def test_the_same_bytes_again_give_the_first_file(self, store: Store) -> None:
        ada = await make.user(store, "ada")
        first = await _added(store, _file(ada, name="first.txt"))
        again = await _added(store, _file(ada, name="again.txt"))
        assert again == first
        async with store.transaction() as tx:
            assert await tx.files.find_file(ada.id, "a" * 64) == first
            assert await tx.files.find_file(ada.id, "b" * 64) is None
            assert len(await tx.files.list_files(ada.id, limit=10)) == 1

    async def test_another_owner_of_the_same_bytes_has_a_file_of_their_own(
        self, store: Store
    ) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        adas = await _added(store, _file(ada))
        bobs = await _added(store, _file(bob))
        assert bobs.id != adas.id
        async with store.transaction() as tx:
            assert await tx.files.find_file(bob.id, "a" * 64) == bobs

    async def test_two_uploads_at_once_store_one_file(self, store: Store) -> None:
        ada = await make.user(store, "ada")
        one, two = await asyncio.gather(_added(store, _file(ada)), _added(store, _file(ada)))
        assert one.id == two.id


class TestListing:
    async def test_newest_first_paged_and_only_the_owners(self, store: Store) -> None:
        ada, bob = await make.user(store, "ada"), await make.user(store, "bob")
        files = [await _added(store, _file(ada, sha256=str(n) * 64)) for n in range(3)]
        await _added(store, _file(bob, sha256="9" * 64))
        async with store.transaction() as tx:
            page = await tx.files.list_files(ada.id, limit=2)
            rest = await tx.files.list_files(ada.id, limit=2, before=page[-1].id)
        assert [f.id for f in page] == [files[2].id, files[1].id]
        assert [f.id for f in rest] == [files[0].id]


class TestSettling:
    async def test_ready_stores_the_chunks_with_the_status(self, store: Store) -> None:
        file = await _added(store, _file(await make.user(store)))
        chunks = _chunks(file, 3)
        async with store.transaction() as tx:
            assert await tx.files.mark_ready(file.id, chunks)
        async with store.transaction() as tx:
            stored = await tx.files.get_file(file.id)
            assert list(await tx.files.list_chunks(file.id)) == chunks
        assert stored is not None
        assert stored.status is FileStatus.READY
        assert stored.error is None

    async def test_many_chunks_are_stored_in_order(self, store: Store) -> None:
        file = await _added(store, _file(await make.user(store)))
        chunks = _chunks(file, 1_234)
        async with store.transaction() as tx:
            await tx.files.mark_ready(file.id, chunks)
        async with store.transaction() as tx:
            assert list(await tx.files.list_chunks(file.id)) == chunks

    async def test_failed_keeps_the_reason_and_no_chunks(self, store: Store) -> None:
        file = await _added(store, _file(await make.user(store)))
        async with store.transaction() as tx:
            assert await tx.files.mark_failed(file.id, "the PDF could not be read")
        async with store.transaction() as tx:
            stored = await tx.files.get_file(file.id)
            assert list(await tx.files.list_chunks(file.id)) == []
        assert stored is not None
        assert stored.status is FileStatus.FAILED
        assert stored.error == "the PDF could not be read"

    async def test_a_settled_file_is_never_settled_again(self, store: Store) -> None:
        file = await _added(store, _file(await make.user(store)))
        first = _chunks(file, 2)
        async with store.transaction() as tx:
            assert await tx.files.mark_ready(file.id, first)
        async with store.transaction() as tx:
            assert not await tx.files.mark_ready(file.id, _chunks(file, 5))
            assert not await tx.files.mark_failed(file.id, "late")
            assert not await tx.files.mark_ready(new_id(), first)
        async with store.transaction() as tx:
            stored = await tx.files.get_file(file.id)
            assert list(await tx.files.list_chunks(file.id)) == first
        assert stored is not None
        assert stored.status is FileStatus.READY

    async def test_of_two_settling_at_once_one_wins(self, store: Store) -> None:
        file = await _added(store, _file(await make.user(store)))

        async def settle(count: int) -> bool:
            async with store.transaction() as tx:
                return await tx.files.mark_ready(file.id, _chunks(file, count))

        results = await asyncio.gather(settle(2), settle(4))
        assert sorted(results) == [False, True]
        async with store.transaction() as tx:
            stored = len(await tx.files.list_chunks(file.id))
        assert stored == (2 if results[0] else 4)

    async def test_files_still_to_read_are_listed_by_id_in_batches(self, store: Store) -> None:
        owner = await make.user(store)
        files = [await _added(store, _file(owner, str(n) * 64)) for n in range(4)]
        async with store.transaction() as tx:
            await tx.files.mark_ready(files[1].id, _chunks(files[1], 1))
            await tx.files.mark_failed(files[2].id, "no text")
        async with store.transaction() as tx:
            unread = await tx.files.processing(limit=10)
            first = await tx.files.processing(limit=1)
            rest = await tx.files.processing(limit=10, after=first[0])
        assert unread == sorted([files[0].id, files[3].id])
        assert [*first, *rest] == unread


class TestDeleting:
    async def test_a_file_goes_with_its_chunks_and_chat_links(self, store: Store) -> None:
        chat = await make.chat(store)
        file = await _added(store, _file(chat.owner_id))
        async with store.transaction() as tx:
            await tx.files.mark_ready(file.id, _chunks(file, 3))
            await tx.files.attach_file(chat.id, file.id)
        async with store.transaction() as tx:
            assert await tx.files.delete_file(file.id)
        async with store.transaction() as tx:
            assert await tx.files.get_file(file.id) is None
            assert list(await tx.files.list_chunks(file.id)) == []
            assert list(await tx.files.chat_files(chat.id)) == []
            assert not await tx.files.delete_file(file.id)

    async def test_erasing_the_owner_erases_their_files(self, store: Store) -> None:
        ada = await make.user(store)
        file = await _added(store, _file(ada))
        async with store.transaction() as tx:
            await tx.users.delete_user(ada.id)
        async with store.transaction() as tx:
            assert await tx.files.get_file(file.id) is None


class TestChatLinks:
    async def test_attaching_twice_links_once_and_the_chat_lists_its_files(
        self, store: Store
    ) -> None:
        chat = await make.chat(store)
        first = await _added(store, _file(chat.owner_id, sha256="1" * 64))
        second = await _added(store, _file(chat.owner_id, sha256="2" * 64))
        async with store.transaction() as tx:
            assert await tx.files.attach_file(chat.id, first.id)
            assert await tx.files.attach_file(chat.id, second.id)
            assert not await tx.files.attach_file(chat.id, first.id)
        async with store.transaction() as tx:
            assert [f.id for f in await tx.files.chat_files(chat.id)] == [first.id, second.id]
            assert list(await tx.files.chat_files(new_id())) == []
