"""Prompt templates: read every version of each, and add a new one (the system prompt,
the summary prompt, a bot's own). Reading needs the ``operator`` role, writing ``admin``.

A new version is checked first: Jinja2 in a sandbox, rendered against sample contexts;
one that fails is refused (422) with the error and its line. It is used from the next
answer on (docs/memory.md#prompt-templates).
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from chatorch.api.deps import AdminDep, ContainerDep, OperatorDep, json_body
from chatorch.domain.entities import PromptVersion
from chatorch.services.templates import MAX_TEMPLATE, NAME_PATTERN

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])

Name = Annotated[str, Path(pattern=NAME_PATTERN, description="1 to 64 of a-z 0-9 _ -, e.g. system")]


class NewVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(
        min_length=1, max_length=MAX_TEMPLATE, description="Jinja2; see docs/memory.md"
    )


class PromptOut(BaseModel):
    name: str
    version: int
    template: str
    created_at: datetime | None = Field(description="null for version 1, the built-in text")

    @classmethod
    def of(cls, found: PromptVersion) -> "PromptOut":
        return cls(
            name=found.name,
            version=found.version,
            template=found.template,
            created_at=found.created_at,
        )


@router.get("", response_model=list[PromptOut])
async def list_prompts(c: ContainerDep, _: OperatorDep) -> list[PromptOut]:
    """The current version of every template, by name."""
    return [PromptOut.of(found) for found in await c.prompts.catalogue()]


@router.get("/{name}", response_model=PromptOut)
async def get_prompt(name: Name, c: ContainerDep, _: OperatorDep) -> PromptOut:
    """The version answers use now."""
    return PromptOut.of(await c.prompts.current(name))


@router.get("/{name}/versions", response_model=list[PromptOut])
async def prompt_versions(name: Name, c: ContainerDep, _: OperatorDep) -> list[PromptOut]:
    """Every version, newest first."""
    return [PromptOut.of(found) for found in await c.prompts.versions(name)]


@router.put(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    response_model=PromptOut,
    dependencies=[Depends(json_body)],
)
async def put_prompt(
    name: Name, body: NewVersion, c: ContainerDep, admin: AdminDep, response: Response
) -> PromptOut:
    """Add the next version of a template (a new name starts at version 2)."""
    added = await c.prompts.put(name, body.template, actor=admin.user.name)
    response.headers["Location"] = f"/v1/prompts/{name}"
    return PromptOut.of(added)
