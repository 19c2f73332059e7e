"""The Telegram channel wired to an in-memory Bot API and a real database, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.telegram.bot import JsonBot
from bot.telegram.channel import TelegramChannel
from bot.telegram.ratelimit import FloodLimiter
from tests.conftest import Backend
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeBotApi


class RecordingLimiter(FloodLimiter):
    """A FloodLimiter that remembers every slot it handed out: (start, chat)."""

    def __init__(self, clock: FakeClock, **kwargs: Any) -> None:
        super().__init__(clock=clock, sleep=clock.sleep, **kwargs)
        self.slots: list[tuple[float, str | None]] = []

    def _reserve(self, chat: str | None) -> float:
        start = super()._reserve(chat)
        self.slots.append((start, chat))
        return start


def make_bot(api: FakeBotApi, limiter: FloodLimiter, token: str = "123:TEST") -> JsonBot:
    return JsonBot(
        token=token,
        base_url="http://fake.invalid/bot",
        request=api.request(),
        get_updates_request=api.request(),
        rate_limiter=limiter,
    )


@dataclass
class TelegramHarness:
    api: FakeBotApi
    clock: FakeClock
    limiter: RecordingLimiter
    channel: TelegramChannel

    async def deliver(self, *updates: dict[str, Any]) -> None:
        """Hand updates over as a webhook or poll would, and wait until they are answered."""
        await self.channel.accept(list(updates))
        await self.channel.join()


async def start_harness(
    backend: Backend, translators: dict[str, Any], token: str = "123:TEST"
) -> TelegramHarness:
    api = FakeBotApi()
    clock = FakeClock()
    api.clock = clock
    limiter = RecordingLimiter(clock)
    channel = TelegramChannel(
        make_bot(api, limiter, token),
        backend.conversations,
        backend.db,
        translators,
        concurrency=8,
    )
    await channel.start()
    return TelegramHarness(api, clock, limiter, channel)
