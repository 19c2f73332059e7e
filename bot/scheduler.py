"""Per-chat ordering with bounded concurrency: one chat's updates in turn, chats in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["ChatScheduler", "sleep_unless"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ChatScheduler(Generic[T]):
    """Runs `handle(item)` for submitted items: in order within a chat, at most `limit` at once.

    A chat with work has one task that takes its items one by one; the semaphore bounds how
    many items run at the same moment across chats.
    """

    def __init__(self, handle: Callable[[T], Awaitable[None]], limit: int) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(limit)
        self._queues: dict[str, deque[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def backlog(self) -> int:
        """How many items wait or run."""
        return sum(len(q) for q in self._queues.values())

    def submit(self, chat: str, item: T) -> bool:
        """Queue an item for its chat; return False once the scheduler is closing."""
        if self._closing:
            return False
        queue = self._queues.get(chat)
        if queue is not None:
            queue.append(item)
            return True
        self._queues[chat] = deque([item])
        task = asyncio.create_task(self._drain(chat), name=f"chat-{chat}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _drain(self, chat: str) -> None:
        queue = self._queues[chat]
        try:
            while queue and not self._closing:
                async with self._slots:
                    if self._closing:
                        break
                    try:
                        await self._handle(queue[0])
                    except Exception:
                        # The item stays recorded as not done and is retried after a restart.
                        log.exception("handling an update of a chat failed")
                queue.popleft()
        finally:
            del self._queues[chat]

    async def join(self) -> None:
        """Wait until everything submitted so far has been handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float) -> None:
        """Start nothing new, let what runs finish (up to `grace` seconds)."""
        self._closing = True
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(list(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
