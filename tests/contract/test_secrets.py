"""The SecretRepository contract: ciphertexts stored, replaced, listed and deleted by name."""

from chatorch.ports.store import Store


class TestSecrets:
    async def test_put_get_replace(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.secrets.get_secret("openai_api_key") is None
            await tx.secrets.put_secret("openai_api_key", "gAAAA-first")
        async with store.transaction() as tx:
            assert await tx.secrets.get_secret("openai_api_key") == "gAAAA-first"
            await tx.secrets.put_secret("openai_api_key", "gAAAA-second")
        async with store.transaction() as tx:
            assert await tx.secrets.get_secret("openai_api_key") == "gAAAA-second"
            assert list(await tx.secrets.secret_names()) == ["openai_api_key"]

    async def test_names_are_sorted_and_delete_says_whether_it_found_one(
        self, store: Store
    ) -> None:
        async with store.transaction() as tx:
            for name in ("zeta", "alpha", "mid"):
                await tx.secrets.put_secret(name, f"cipher-{name}")
        async with store.transaction() as tx:
            assert list(await tx.secrets.secret_names()) == ["alpha", "mid", "zeta"]
            assert await tx.secrets.delete_secret("mid")
            assert not await tx.secrets.delete_secret("mid")
        async with store.transaction() as tx:
            assert await tx.secrets.get_secret("mid") is None
            assert list(await tx.secrets.secret_names()) == ["alpha", "zeta"]

    async def test_a_rolled_back_put_leaves_nothing(self, store: Store) -> None:
        try:
            async with store.transaction() as tx:
                await tx.secrets.put_secret("token", "cipher")
                raise LookupError("abandon")
        except LookupError:
            pass
        async with store.transaction() as tx:
            assert await tx.secrets.get_secret("token") is None
