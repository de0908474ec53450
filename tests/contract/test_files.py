"""The FileRepository contract: file metadata, on every store."""

from chatorch.domain.entities import FileMeta
from chatorch.domain.ids import new_id
from chatorch.ports.store import Store
from tests.contract import records as make


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
            await tx.files.add_file(loose)
            await tx.files.add_file(attached)
        async with store.transaction() as tx:
            assert await tx.files.get_file(loose.id) == loose
            assert await tx.files.get_file(attached.id) == attached
            assert await tx.files.get_file(new_id()) is None
