"""A virtual clock for rate limits: no test sleeps, yet sleepers wake in deadline order."""

from __future__ import annotations

import asyncio
import heapq
from datetime import UTC, datetime, timedelta

# Loop turns given to runnable tasks before the clock moves on to the next sleeper.
_SETTLE_TURNS = 20


class FakeClock:
    """Monotonic seconds. `sleep` waits on virtual time, which jumps to the earliest sleeper's
    deadline once the runnable tasks have had their turns, and wakes that sleeper alone."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._advancer: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, self._seq, wake))
        self._seq += 1
        if self._advancer is None or self._advancer.done():
            self._advancer = loop.create_task(self._advance())
        await wake

    async def _advance(self) -> None:
        while self._sleepers:
            for _ in range(_SETTLE_TURNS):
                await asyncio.sleep(0)
            deadline, _seq, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not wake.done():
                wake.set_result(None)


class WallClock:
    """An aware UTC time that moves only when told to: `clock()` reads it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
