"""Per-chat ordering with bounded concurrency."""

from __future__ import annotations

import asyncio

from bot.scheduler import ChatScheduler


async def test_one_chat_in_order_chats_in_parallel_never_more_than_the_limit() -> None:
    running = 0
    peak = 0
    done: list[tuple[str, int]] = []

    async def handle(item: tuple[str, int]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (item[1] % 3))
        done.append(item)
        running -= 1

    scheduler: ChatScheduler[tuple[str, int]] = ChatScheduler(handle, limit=4)
    for n in range(10):
        for chat in "abcdefgh":
            scheduler.submit(chat, (chat, n))
    await scheduler.join()
    assert len(done) == 80
    for chat in "abcdefgh":
        assert [n for c, n in done if c == chat] == list(range(10))
    assert peak == 4


async def test_a_failing_item_does_not_stop_its_chat() -> None:
    seen: list[int] = []

    async def handle(n: int) -> None:
        seen.append(n)
        if n == 1:
            raise RuntimeError("boom")

    scheduler: ChatScheduler[int] = ChatScheduler(handle, limit=2)
    for n in range(3):
        scheduler.submit("a", n)
    await scheduler.join()
    assert seen == [0, 1, 2]


async def test_closing_finishes_what_runs_and_starts_nothing_new() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def handle(n: int) -> None:
        started.append(n)
        await release.wait()

    scheduler: ChatScheduler[int] = ChatScheduler(handle, limit=1)
    for n in range(3):
        scheduler.submit("a", n)
    await asyncio.sleep(0)
    closing = asyncio.create_task(scheduler.close(grace=5))
    await asyncio.sleep(0)
    release.set()
    await closing
    assert started == [0]
    assert scheduler.submit("a", 9) is False
