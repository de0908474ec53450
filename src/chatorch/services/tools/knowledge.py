"""The ``knowledge_search`` tool: the model searches all the asker's files on demand,
beyond those attached to the chat.

A tool is called with its arguments only; whose files to search is the answer's own
business, so the pipeline says which chat it answers (``answering``), and the tool
searches the files of that chat's owner — never anyone else's.
"""

from contextvars import ContextVar
from typing import Any
from uuid import UUID

from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolSpec
from chatorch.ports.store import Store
from chatorch.services.retrieval import Retriever

RESULTS = 5

# The chat the current answer is for: set by the pipeline around its tool calls, and
# inherited by the tasks that run them.
answering: ContextVar[UUID | None] = ContextVar("answering", default=None)


class KnowledgeSearch:
    _SPEC = ToolSpec(
        name="knowledge_search",
        description=(
            "Search the user's uploaded files (documents, manuals, notes) for passages"
            " about a question. Use it when the answer may be in their files. Returns"
            " numbered passages with the file each comes from."
        ),
        parameters={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "What to look for: a question, names or codes.",
                }
            },
            "required": ["query"],
        },
    )

    def __init__(self, store: Store, retriever: Retriever) -> None:
        self._store = store
        self._retriever = retriever

    @property
    def spec(self) -> ToolSpec:
        return self._SPEC

    async def call(self, arguments: dict[str, Any]) -> str:
        query = str(arguments.get("query", "")).strip()
        if not query:
            raise ToolFailed("'query' must say what to look for")
        chat_id = answering.get()
        if chat_id is None:
            raise ToolFailed("there is no user whose files to search here")
        async with self._store.transaction(durable=False) as tx:
            chat = await tx.chats.get_chat(chat_id)
        if chat is None:
            raise ToolFailed("the chat is gone")
        found = await self._retriever.retrieve(chat.owner_id, query, file_ids=None, limit=RESULTS)
        if not found:
            return "No passage of the user's files matches."
        return "\n\n".join(
            f"[{number}] {passage.file_name}, part {passage.chunk.number + 1}:\n"
            f"{passage.chunk.text}"
            for number, passage in enumerate(found, start=1)
        )
