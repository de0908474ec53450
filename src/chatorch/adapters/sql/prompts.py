"""``PromptRepository`` on SQL: one row per version of a template, keyed (name, version).

A new version takes the highest number plus one with ``INSERT … ON CONFLICT DO NOTHING``:
a writer that lost the number to another (whose row the conflict waited for) reads the
highest again and takes the next, in the same transaction.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from chatorch.adapters.sql.models import PromptRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import PromptVersion, utcnow
from chatorch.ports.prompts import PromptRepository

FIRST_STORED = 2  # version 1 of a built-in name is chatorch's own, never stored


class SqlPromptRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def add_version(self, name: str, template: str) -> PromptVersion:
        while True:
            highest = await self._scope.session.scalar(
                select(func.max(PromptRow.version)).where(PromptRow.name == name)
            )
            version = FIRST_STORED if highest is None else highest + 1
            created = utcnow()
            values = {"name": name, "version": version, "template": template, "created_at": created}
            if await self._scope.insert_unless_taken(PromptRow, values, ["name", "version"]):
                return PromptVersion(name, version, template, created)

    @translated
    async def current(self, name: str) -> PromptVersion | None:
        query = (
            select(PromptRow)
            .where(PromptRow.name == name)
            .order_by(PromptRow.version.desc())
            .limit(1)
        )
        row = await self._scope.session.scalar(query)
        return None if row is None else _version(row)

    @translated
    async def versions(self, name: str) -> Sequence[PromptVersion]:
        query = select(PromptRow).where(PromptRow.name == name).order_by(PromptRow.version.desc())
        return [_version(row) for row in await self._scope.session.scalars(query)]

    @translated
    async def latest(self) -> Sequence[PromptVersion]:
        highest = (
            select(PromptRow.name, func.max(PromptRow.version).label("version"))
            .group_by(PromptRow.name)
            .subquery()
        )
        query = (
            select(PromptRow)
            .join(
                highest,
                (PromptRow.name == highest.c.name) & (PromptRow.version == highest.c.version),
            )
            .order_by(PromptRow.name)
        )
        return [_version(row) for row in await self._scope.session.scalars(query)]

    @translated
    async def stamp(self) -> str:
        # Rows are only ever added: their number changes with every new version.
        query = select(func.count(PromptRow.version), func.max(PromptRow.created_at))
        found = (await self._scope.session.execute(query)).one()
        return ":".join(str(value) for value in found)


def _version(row: PromptRow) -> PromptVersion:
    return PromptVersion(row.name, row.version, row.template, row.created_at)


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlPromptRepository) -> PromptRepository:
        return repository
