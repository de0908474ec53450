"""One conversation of ``chatorch chat`` with a server: ask, follow the answer, stop it.

The chat is created with its first message, never before: a session that sends
nothing leaves nothing behind. Each question runs in its own event loop (the prompt
between them is plain blocking ``input``), and while the answer streams Ctrl-C asks
the server to cancel it and shows what was said until then; a second Ctrl-C stops
following at once.
"""

import asyncio
import contextlib
import signal
from typing import Any

from chatorch.cli.render import AnswerView
from chatorch.client import ChatClient, ClientError

CANCEL_WAIT = 5.0  # s the stream may take to end after a cancel before we stop following


class Conversation:
    def __init__(self, url: str, *, key: str | None, chat_id: str | None = None) -> None:
        self.url, self.key = url, key
        self.chat_id = chat_id  # None until the first message creates the chat

    def ask(self, text: str, view: AnswerView, *, interruptible: bool = False) -> bool:
        """Send ``text`` and show its answer; True when it completed (or was stopped).

        Raises:
            ClientError: the server could not be reached or refused the message.
        """
        return asyncio.run(self._ask(text, view, interruptible=interruptible))

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """The user's latest chats, newest first."""
        return asyncio.run(self._recent(limit))

    async def _recent(self, limit: int) -> list[dict[str, Any]]:
        async with ChatClient(self.url, key=self.key) as client:
            return await client.list_chats(limit=limit)

    async def _ask(self, text: str, view: AnswerView, *, interruptible: bool) -> bool:
        async with ChatClient(self.url, key=self.key) as client:
            accepted = await self._send(client, text)
            following = asyncio.create_task(_follow(client, accepted["events_url"], view))
            try:
                if not interruptible:
                    return await following
                return await self._interruptible(client, following, accepted["response_id"], view)
            finally:
                view.close()

    async def _send(self, client: ChatClient, text: str) -> dict[str, Any]:
        """Post ``text``, creating the chat first when this is its first message; a chat
        whose first message is refused (too long, say) is deleted again, not left empty."""
        if self.chat_id is not None:
            return await client.send(self.chat_id, text)
        chat_id = str((await client.create_chat())["id"])
        try:
            accepted = await client.send(chat_id, text)
        except ClientError:
            with contextlib.suppress(ClientError):
                await client.delete_chat(chat_id)
            raise
        self.chat_id = chat_id
        return accepted

    async def _interruptible(
        self,
        client: ChatClient,
        following: "asyncio.Task[bool]",
        response_id: str,
        view: AnswerView,
    ) -> bool:
        interrupts = asyncio.Queue[None]()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, interrupts.put_nowait, None)
        try:
            return await self._until_stopped(client, following, interrupts, response_id, view)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    async def _until_stopped(
        self,
        client: ChatClient,
        following: "asyncio.Task[bool]",
        interrupts: "asyncio.Queue[None]",
        response_id: str,
        view: AnswerView,
    ) -> bool:
        interrupted = asyncio.ensure_future(interrupts.get())
        await asyncio.wait([following, interrupted], return_when=asyncio.FIRST_COMPLETED)
        if following.done():
            interrupted.cancel()
            return following.result()
        assert self.chat_id is not None
        if not await client.cancel(self.chat_id, response_id):
            view.note("■ this server cannot cancel answers; stopped following this one")
            return await _stop(following)
        again = asyncio.ensure_future(interrupts.get())  # a second Ctrl-C: stop now
        await asyncio.wait([following, again], timeout=CANCEL_WAIT)
        again.cancel()
        if following.done():
            return following.result()
        view.note("■ stopped following the answer")
        return await _stop(following)


async def _follow(client: ChatClient, events_url: str, view: AnswerView) -> bool:
    async for event in client.events(events_url):
        data = event.data
        if event.kind == "token":
            view.token(data["text"])
        elif event.kind == "step":
            view.step(data["stage"], data.get("detail") or {})
        elif event.kind == "reset":
            view.reset(data.get("attempt", 0))
        elif event.kind == "done":
            view.done(data)
            return True
        elif event.kind == "error":
            view.error(data.get("code", "error"), data.get("detail", ""))
            return False
    raise ClientError("the event stream ended before the answer did")


async def _stop(following: "asyncio.Task[bool]") -> bool:
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following
    return True
