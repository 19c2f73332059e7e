"""Telegram's flood limits, checked on a fake clock: no test sleeps."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest
from telegram.error import RetryAfter

from bot.telegram.ratelimit import SAFETY_MARGIN
from tests.fakes.clock import FakeClock
from tests.telegram_harness import RecordingLimiter


def assert_within_limits(slots: list[tuple[float, str | None]], overall: int = 30) -> None:
    times = sorted(t for t, _ in slots)
    for i in range(len(times) - overall):
        assert times[i + overall] - times[i] >= 1.0 - 1e-9, "more than 30 sends in a second"
    per_chat: dict[str | None, list[float]] = defaultdict(list)
    for t, chat in slots:
        per_chat[chat].append(t)
    for chat_times in per_chat.values():
        chat_times.sort()
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(chat_times))


async def ok() -> bool:
    return True


def first_slot(limiter: RecordingLimiter) -> float:
    return min(t for t, _ in limiter.slots)


async def test_concurrent_pushes_keep_30_a_second_and_1_a_second_per_chat() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    await asyncio.gather(
        *(
            limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": i % 7}, True)
            for i in range(120)
        )
    )
    assert len(limiter.slots) == 120
    assert_within_limits(limiter.slots)
    # 120 pushes over 7 chats: the per-chat limit, not the overall one, sets the pace.
    assert clock.now - first_slot(limiter) == pytest.approx(17.0, abs=1.0)


async def test_many_chats_are_paced_at_30_a_second() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    await asyncio.gather(
        *(
            limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": i}, True)
            for i in range(300)
        )
    )
    assert_within_limits(limiter.slots)
    # 30 a second, less what is kept spare for network jitter.
    assert clock.now - first_slot(limiter) == pytest.approx(
        300 / 30 * (1 + SAFETY_MARGIN), abs=0.1
    )


async def test_a_new_process_waits_out_the_second_its_predecessor_may_have_used() -> None:
    # Telegram counts the bot's sends, not a process's: a worker restarted may follow one
    # that sent 30 in its last second, so its first push waits a second.
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": 1}, True)
    assert first_slot(limiter) == pytest.approx(1.0)
    # A direct answer to a person's message is not held back.
    answered = RecordingLimiter(clock)
    await answered.process_request(ok, (), {}, "sendMessage", {"chat_id": 2}, None)
    assert clock.now == pytest.approx(1.0)


async def test_a_push_held_up_on_its_way_does_not_bunch_with_the_next_second() -> None:
    # Telegram counts a send when it arrives. Every call takes 50 ms there and back; a few
    # are held up 300 ms before they arrive (the process paused, the network slow).
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    arrivals: list[tuple[float, str | None]] = []

    def call(n: int) -> Callable[[], Awaitable[bool]]:
        async def send() -> bool:
            await clock.sleep(0.3 if n % 37 == 5 else 0.025)
            arrivals.append((clock.now, str(n)))
            await clock.sleep(0.025)
            return True

        return send

    await asyncio.gather(
        *(
            limiter.process_request(call(n), (), {}, "sendMessage", {"chat_id": n}, True)
            for n in range(200)
        )
    )
    assert len(arrivals) == 200
    assert_within_limits(arrivals)
    # Only the held-up sends cost time: the pace stays close to 30 a second.
    assert clock.now < 200 / 30 * (1 + SAFETY_MARGIN) + 6 * 0.3


async def test_direct_answers_and_non_sending_calls_are_not_spaced() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    for _ in range(50):
        await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": 1}, None)
        await limiter.process_request(ok, (), {}, "answerCallbackQuery", {}, True)
    assert limiter.slots == []
    assert clock.now == 0


async def test_a_429_pauses_every_send_for_retry_after_then_retries() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    failures = [RetryAfter(5)]

    async def flaky() -> bool:
        if failures:
            raise failures.pop()
        return True

    assert await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, True)
    assert limiter.retry_afters == 1
    assert clock.now >= 5
    # A direct answer after the 429 also waited for the pause to end.
    before = clock.now
    await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": 2}, None)
    assert clock.now == before


async def test_a_429_that_keeps_coming_is_raised_after_the_retries() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter(clock, max_retries=2)

    async def always() -> bool:
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await limiter.process_request(always, (), {}, "sendMessage", {"chat_id": 1}, True)
    assert limiter.retry_afters == 3
