"""A clock for rate limits that moves only when a limiter waits: no real sleeping in tests."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Monotonic seconds; `sleep` moves time forward instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)
