"""Bots: create, list, read, change and delete the bots chatorch answers as on Telegram,
Slack, Discord, WhatsApp and Messenger. Needs the ``operator`` role.

Credentials go in (checked per platform, stored encrypted) and never come out: no
response and no audit event holds them.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema

from chatorch.api.deps import ContainerDep, OperatorDep, json_body
from chatorch.api.schemas import NOT_BLANK
from chatorch.domain.entities import KEEP, Bot
from chatorch.domain.llm import CHAIN_PATTERN
from chatorch.services.bots import (
    MAX_LLM,
    MAX_NAME,
    MAX_TOOLS,
    TOOL_NAME,
    webhook_url,
)
from chatorch.services.templates import NAME_PATTERN as PROMPT_NAME

router = APIRouter(prefix="/v1/bots", tags=["bots"])

PlatformName = Literal["telegram", "slack", "discord", "whatsapp", "messenger"]
ToolName = Annotated[str, StringConstraints(pattern=TOOL_NAME)]
PromptName = Annotated[
    str,
    StringConstraints(pattern=PROMPT_NAME),
    Field(description="a template of /v1/prompts for its system prompt; unset: system"),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK)]
# The chain's syntax is in the schema; the service checks it, saying what is wrong.
Chain = Annotated[
    str,
    StringConstraints(max_length=MAX_LLM),
    Field(json_schema_extra={"pattern": CHAIN_PATTERN}),
]
Credentials = Annotated[
    dict[str, str],
    Field(max_length=16, description="the platform's fields (docs/api.md#bots); never shown"),
]


class NewBot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: PlatformName
    name: Name
    credentials: Credentials
    llm: Chain | None = Field(default=None, description="a chain like CHATORCH_LLM's")
    tools: list[ToolName] | None = Field(
        default=None, max_length=MAX_TOOLS, description="tool names; unset: the server's"
    )
    prompt: PromptName | None = None


class BotChanges(BaseModel):
    """What a ``PATCH`` changes: only the fields it holds. ``llm``, ``tools`` or
    ``prompt`` set to null go back to the server's."""

    model_config = ConfigDict(extra="forbid")
    # Optional, but not nullable: the schema says so, and the validator refuses a null.
    name: Name | SkipJsonSchema[None] = None
    credentials: Credentials | SkipJsonSchema[None] = None
    llm: Chain | None = None
    tools: list[ToolName] | None = Field(default=None, max_length=MAX_TOOLS)
    prompt: PromptName | None = None

    @field_validator("name", "credentials")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # only an explicit null gets here
            raise ValueError("may be left out, but not null")
        return value


class BotOut(BaseModel):
    id: UUID
    platform: PlatformName
    name: str
    webhook_url: str = Field(description="what the platform must call; absolute with PUBLIC_URL")
    created_at: datetime
    llm: str | None
    tools: list[str] | None
    prompt: str | None

    @classmethod
    def of(cls, bot: Bot, public_url: str | None) -> "BotOut":
        return cls(
            id=bot.id,
            platform=bot.platform.value,
            name=bot.name,
            webhook_url=webhook_url(bot.id, public_url),
            created_at=bot.created_at,
            llm=bot.llm,
            tools=bot.tools,
            prompt=bot.prompt,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BotOut,
    dependencies=[Depends(json_body)],
)
async def create_bot(
    body: NewBot, c: ContainerDep, operator: OperatorDep, response: Response
) -> BotOut:
    """Add a bot; its credentials are checked for its platform and stored encrypted."""
    bot = await c.bots.create(
        owner_id=operator.user.id,
        platform=body.platform,
        name=body.name,
        credentials=body.credentials,
        llm=body.llm,
        tools=body.tools,
        prompt=body.prompt,
        actor=operator.user.name,
    )
    response.headers["Location"] = f"/v1/bots/{bot.id}"
    return BotOut.of(bot, c.settings.public_url)


@router.get("", response_model=list[BotOut])
async def list_bots(c: ContainerDep, _: OperatorDep) -> list[BotOut]:
    """Every bot, newest first."""
    return [BotOut.of(bot, c.settings.public_url) for bot in await c.bots.list_bots()]


@router.get("/{bot_id}", response_model=BotOut)
async def get_bot(bot_id: UUID, c: ContainerDep, _: OperatorDep) -> BotOut:
    return BotOut.of(await c.bots.get(bot_id), c.settings.public_url)


@router.patch("/{bot_id}", response_model=BotOut, dependencies=[Depends(json_body)])
async def update_bot(
    bot_id: UUID, body: BotChanges, c: ContainerDep, operator: OperatorDep
) -> BotOut:
    """Change the name, credentials, ``llm``, ``tools`` or ``prompt``: only the fields sent."""
    given = body.model_fields_set
    bot = await c.bots.update(
        bot_id,
        name=body.name,
        credentials=body.credentials,
        llm=body.llm if "llm" in given else KEEP,
        tools=body.tools if "tools" in given else KEEP,
        prompt=body.prompt if "prompt" in given else KEEP,
        actor=operator.user.name,
    )
    c.channels.forget(bot_id)  # this process uses the new credentials at once
    return BotOut.of(bot, c.settings.public_url)


@router.delete("/{bot_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_bot(bot_id: UUID, c: ContainerDep, operator: OperatorDep) -> Response:
    """Delete a bot with its conversations' links; its chats stay."""
    await c.bots.delete(bot_id, actor=operator.user.name)
    c.channels.forget(bot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
