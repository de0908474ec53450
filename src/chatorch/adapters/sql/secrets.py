"""``SecretRepository`` on SQL: ciphertexts by name (the vault encrypts before)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from chatorch.adapters.sql.models import SecretRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import utcnow
from chatorch.ports.secrets import SecretRepository


class SqlSecretRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def put_secret(self, name: str, ciphertext: str) -> None:
        row = await self._scope.get(SecretRow, name)
        if row is None:
            self._scope.session.add(
                SecretRow(name=name, ciphertext=ciphertext, updated_at=utcnow())
            )
        else:
            row.ciphertext, row.updated_at = ciphertext, utcnow()
        await self._scope.session.flush()

    @translated
    async def get_secret(self, name: str) -> str | None:
        row = await self._scope.get(SecretRow, name)
        return None if row is None else row.ciphertext

    @translated
    async def secret_names(self) -> Sequence[str]:
        query = select(SecretRow.name).order_by(SecretRow.name)
        return list(await self._scope.session.scalars(query))

    @translated
    async def delete_secret(self, name: str) -> bool:
        statement = delete(SecretRow).where(SecretRow.name == name)
        result = await self._scope.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlSecretRepository) -> SecretRepository:
        return repository
