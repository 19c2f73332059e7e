"""The outbox and its worker: order, limits, 429s, blocked people, retries, several workers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot import worker as worker_module
from bot.telegram.sender import TelegramSender
from bot.worker import OutboxWorker
from ffs_bot.db.claims import SENDER, SoleRole
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import OutboxRow, PersonRow, utcnow
from ffs_bot.db.uow import Database, UnitOfWork
from ffs_bot.messages import Choice, Reply
from ffs_bot.outbox import claim_due, enqueue
from ffs_bot.services.people import touch_identity
from tests.conftest import Backend
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeBotApi
from tests.telegram_harness import RecordingLimiter, make_bot
from tests.unit.test_flood_limiter import assert_within_limits


async def push(db: Database, pushes: list[tuple[int, str]]) -> None:
    async with db.uow() as uow:
        for chat in sorted({chat for chat, _text in pushes}):
            await touch_identity(uow, "telegram", str(chat))  # pushes go to who wrote to us
        for chat, text in pushes:
            await enqueue(
                uow,
                channel="telegram",
                recipient=str(chat),
                replies=[Reply(text)],
                idempotency_key=f"{chat}:{text}",
            )
        await uow.commit()


def worker_for(db: Database, api: FakeBotApi, clock: FakeClock | None = None, **kwargs):
    limiter = RecordingLimiter(clock or FakeClock())
    bot = make_bot(api, limiter)
    return OutboxWorker(db, {"telegram": TelegramSender(bot)}, **kwargs), limiter, bot


async def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls a fake's record, no event to wait on
            await asyncio.sleep(0.01)


async def statuses(db: Database) -> dict[str, int]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        )
        return {status: count for status, count in rows}


async def test_outbox_is_drained_in_order_within_the_limits(backend: Backend) -> None:
    api = FakeBotApi()
    pushes = [(chat, f"n{n}") for n in range(3) for chat in range(100, 140)]
    pushes += [(7, f"m{n}") for n in range(6)]
    await push(backend.db, pushes)
    worker, limiter, bot = worker_for(backend.db, api)
    await bot.initialize()
    await worker.drain()

    sent = defaultdict(list)
    for params in api.of("sendMessage"):
        sent[int(params["chat_id"])].append(params["text"])
    assert sent[7] == [f"m{n}" for n in range(6)]
    assert all(sent[chat] == ["n0", "n1", "n2"] for chat in range(100, 140))
    assert sum(len(v) for v in sent.values()) == len(pushes)  # none lost, none twice
    assert await statuses(backend.db) == {"sent": len(pushes)}
    assert len(limiter.slots) == len(pushes)
    assert_within_limits(limiter.slots)


async def test_buttons_travel_with_a_push(backend: Backend) -> None:
    api = FakeBotApi()
    async with backend.db.uow() as uow:
        await touch_identity(uow, "telegram", "42")
        await enqueue(
            uow,
            channel="telegram",
            recipient="42",
            replies=[Reply("Seat free!", (Choice("Take it", "ws:accept:1"),))],
            idempotency_key="offer-1",
        )
        await uow.commit()
    worker, _limiter, _bot = worker_for(backend.db, api)
    await worker.drain()
    assert api.buttons(api.of("sendMessage")[0]) == ["ws:accept:1"]


async def test_the_same_push_enqueued_twice_is_sent_once(backend: Backend) -> None:
    await push(backend.db, [(1, "hello"), (1, "hello")])
    api = FakeBotApi()
    worker, _limiter, _bot = worker_for(backend.db, api)
    await worker.drain()
    assert len(api.of("sendMessage")) == 1


async def test_a_429_is_waited_out_and_nothing_is_lost_or_doubled(backend: Backend) -> None:
    api = FakeBotApi()
    clock = FakeClock()
    api.clock = clock
    await push(backend.db, [(chat, "tip") for chat in range(50)])
    api.fail_next("sendMessage", "429", 7)
    worker, limiter, _bot = worker_for(backend.db, api, clock)
    await worker.drain()
    assert limiter.retry_afters == 1
    assert sorted(int(p["chat_id"]) for p in api.of("sendMessage")) == list(range(50))
    refused_at = next(t for t, method, _ in api.call_times if method == "sendMessage")
    later = [t for t, method, _ in api.call_times[1:] if method == "sendMessage"]
    assert min(later) >= refused_at + 7  # every send after the 429 waited retry_after
    assert await statuses(backend.db) == {"sent": 50}


async def test_a_blocked_recipient_is_marked_stopped_with_all_their_pushes(
    backend: Backend,
) -> None:
    async with backend.db.uow() as uow:
        await touch_identity(uow, "telegram", "66")
        await uow.commit()
    await push(backend.db, [(66, "a"), (66, "b"), (67, "c")])
    api = FakeBotApi(blocked={66})
    worker, _limiter, _bot = worker_for(backend.db, api)
    await worker.drain()
    assert await statuses(backend.db) == {"stopped": 2, "sent": 1}
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow).order_by(PersonRow.id))
        assert person is not None and person.status == "stopped"


async def test_network_errors_back_off_and_give_up_after_max_attempts(backend: Backend) -> None:
    await push(backend.db, [(5, "x")])
    api = FakeBotApi()
    for _ in range(3):
        api.fail_next("sendMessage", "network")
    worker, _limiter, _bot = worker_for(backend.db, api, max_attempts=3)
    for attempt in (1, 2):
        await worker.drain()
        async with backend.db.uow() as uow:
            row = await uow.session.scalar(select(OutboxRow))
            assert row is not None
            assert (row.status, row.attempts) == ("pending", attempt)
            assert "network" in row.last_error
            # Not due yet: back-off; make it due as if the wait had passed.
            await uow.session.execute(
                update(OutboxRow).values(next_attempt_at=row.next_attempt_at - timedelta(hours=1))
            )
            await uow.commit()
    await worker.drain()
    assert await statuses(backend.db) == {"failed": 1}
    assert api.of("sendMessage") == []


async def test_two_workers_never_send_the_same_row(backend: Backend) -> None:
    pushes = [(chat, f"t{n}") for n in range(2) for chat in range(60)]
    await push(backend.db, pushes)
    api = FakeBotApi()
    other_engine = create_engine(backend.url)
    try:
        other_db = Database(create_session_factory(other_engine))
        first, _l1, _b1 = worker_for(backend.db, api, in_flight=8)
        second, _l2, _b2 = worker_for(other_db, api, in_flight=8)
        await asyncio.gather(first.drain(), second.drain())
    finally:
        await other_engine.dispose()
    texts = [(int(p["chat_id"]), p["text"]) for p in api.of("sendMessage")]
    assert sorted(texts) == sorted(pushes)
    assert await statuses(backend.db) == {"sent": len(pushes)}


async def test_a_worker_killed_mid_send_resends_only_what_was_in_flight(
    backend: Backend,
) -> None:
    await push(backend.db, [(chat, "p") for chat in range(10)])
    lease = timedelta(minutes=2)
    async with backend.db.uow() as uow:
        in_flight = await claim_due(uow, channels=["telegram"], limit=3, lease=lease)
        await uow.commit()
    # ... and the worker dies before settling them. Another worker sends the rest now,
    api = FakeBotApi()
    worker, _limiter, _bot = worker_for(backend.db, api)
    await worker.drain()
    assert len(api.of("sendMessage")) == 7
    # and the three in flight once their lease has run out.
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(OutboxRow)
            .where(OutboxRow.status == "sending")
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
        await uow.commit()
    await worker.drain()
    resent = sorted(int(p["chat_id"]) for p in api.of("sendMessage")[7:])
    assert resent == sorted(int(m.recipient) for m in in_flight)
    assert await statuses(backend.db) == {"sent": 10}


async def test_an_empty_outbox_drains_at_once(backend: Backend) -> None:
    api = FakeBotApi()
    worker, _limiter, _bot = worker_for(backend.db, api)
    await worker.drain()
    assert api.calls == []


async def test_a_claim_lost_as_it_commits_is_put_back_and_sent_once(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeBotApi()
    pushes = [(chat, "hello") for chat in range(300, 310)]
    await push(backend.db, pushes)
    worker, _limiter, bot = worker_for(backend.db, api, in_flight=4)
    await bot.initialize()
    commit = UnitOfWork.commit
    lost = 0

    async def commit_then_lose_the_answer(uow: UnitOfWork) -> None:
        # The database commits the claim; its answer never arrives.
        nonlocal lost
        await commit(uow)
        if lost == 0:
            lost += 1
            raise ConnectionResetError("connection lost while committing")

    monkeypatch.setattr(UnitOfWork, "commit", commit_then_lose_the_answer)
    with pytest.raises(ConnectionResetError):
        await worker.fill()
    assert await statuses(backend.db) == {"sending": 4, "pending": 6}
    # The lease is two minutes; the next claim takes the four back at once.
    await worker.drain()
    sent = [int(params["chat_id"]) for params in api.of("sendMessage")]
    assert sorted(sent) == [chat for chat, _text in pushes]
    assert await statuses(backend.db) == {"sent": len(pushes)}


async def test_one_worker_sends_while_another_stands_by_and_takes_over(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Telegram's 30 a second is the bot's: two workers sending at once would earn 429s.
    if backend.name == "sqlite":
        assert SoleRole.for_engine(backend.engine, SENDER) is None
        return
    monkeypatch.setattr(worker_module, "ROLE_CHECK_SECONDS", 0.05)
    engines = [create_engine(backend.url) for _ in range(2)]
    apis = [FakeBotApi(), FakeBotApi()]
    workers = [
        worker_for(
            Database(create_session_factory(engine)),
            api,
            idle_wait=0.02,
            role=SoleRole.for_engine(engine, SENDER),
        )[0]
        for engine, api in zip(engines, apis, strict=True)
    ]
    stops = [asyncio.Event(), asyncio.Event()]
    runs: list[asyncio.Task[None]] = []
    try:
        runs.append(asyncio.create_task(workers[0].run(stops[0])))
        await push(backend.db, [(500, "before")])
        await wait_for(lambda: len(apis[0].of("sendMessage")) == 1)
        runs.append(asyncio.create_task(workers[1].run(stops[1])))
        await push(backend.db, [(chat, "while both run") for chat in range(501, 541)])
        await wait_for(lambda: len(apis[0].of("sendMessage")) == 41)
        await asyncio.sleep(0.3)  # several of the second worker's checks
        assert apis[1].of("sendMessage") == []
        # The first stops (a deploy, a crash): the second takes over by itself.
        stops[0].set()
        await runs[0]
        await push(backend.db, [(chat, "after") for chat in range(541, 551)])
        await wait_for(lambda: len(apis[1].of("sendMessage")) == 10)
        assert len(apis[0].of("sendMessage")) == 41
        async with asyncio.timeout(10):
            # The last ones settling: polls the database, no event to wait on.
            while await statuses(backend.db) != {"sent": 51}:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*runs, return_exceptions=True)
        for engine in engines:
            await engine.dispose()
