"""InMemoryCache: an LRU-bounded dict with per-entry expiry."""

import time
from collections import OrderedDict
from typing import Any

from chatorch.domain.events import compact


class InMemoryCache:
    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, compact(value))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def incr(self, key: str, *, ttl: float) -> int:
        current = await self.get(key)
        if current is None:
            await self.set(key, b"1", ttl=ttl)
            return 1
        count = int(current) + 1
        expires, _ = self._entries[key]
        self._entries[key] = (expires, str(count).encode())  # keeps the window's expiry
        return count

    async def ping(self) -> None:
        """Always answers: it lives in this process."""

    async def close(self) -> None:
        self._entries.clear()

    def describe(self) -> dict[str, Any]:
        return {"backend": "memory", "entries": len(self._entries), "max_entries": self._max}
