"""Workshops: seats, the queue and its offers, reminders, check-in and feedback."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.housekeeping import send_due_pushes
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import BookingRow, OutboxRow, PersonRow, ScheduledPushRow, WorkshopRow
from ffs_bot.db.uow import Database
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.messages import replies_from_json
from ffs_bot.model import Bilingual, RoleName
from ffs_bot.schedule import out_of_quiet_hours
from ffs_bot.services import workshops
from ffs_bot.services.erasure import forget_person
from ffs_bot.services.factories import get_factory_by_code
from ffs_bot.services.people import set_factory, touch_identity
from ffs_bot.workshop_notices import WorkshopNotifier, WorkshopRules
from tests.conftest import Backend
from tests.helpers import hours_text, seed_factories, weekday_text, works_at
from tests.integration.test_season_admin import staff

NOW = datetime(2027, 7, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shenzhen
START = datetime(2027, 7, 14, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Shenzhen
BOOKER = Path(__file__).with_name("book_many.py")


def notifier(backend: Backend, translators, **rules) -> WorkshopNotifier:
    return WorkshopNotifier(translators, WorkshopRules(**rules))


async def workshop(
    backend: Backend, capacity: int = 30, start: datetime = START, hours: int = 3
) -> int:
    async with backend.db.uow() as uow:
        made = await workshops.create_workshop(
            uow,
            factory_code="SZ01",
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            topic="Calling home",
            language="zh_Hans",
            capacity=capacity,
            place=Bilingual("食堂二楼", "Canteen, 2nd floor"),
            now=NOW,
        )
        await uow.commit()
    return made.id


async def people(backend: Backend, count: int) -> list[int]:
    """Workers at SZ01, where the workshops are: workers book at their own factory only."""
    made = []
    async with backend.db.uow() as uow:
        factory = await get_factory_by_code(uow, "SZ01")
        assert factory is not None
        for n in range(count):
            person, _ = await touch_identity(uow, "console", f"worker{n}")
            await set_factory(uow, person.id, factory.id)
            made.append(person.id)
        await uow.commit()
    return made


async def book(backend: Backend, notify, person: int, workshop_id: int, now: datetime = NOW):
    async with backend.db.uow() as uow:
        made = await workshops.book(
            uow, notify, person_id=person, workshop_id=workshop_id, now=now
        )
        await uow.commit()
    return made.booking


async def status(backend: Backend, booking_id: int) -> str:
    async with backend.db.uow() as uow:
        row = await uow.session.get(BookingRow, booking_id)
        assert row is not None
        return row.status


async def test_a_workshop_that_cannot_be_is_refused_and_staff_need_the_factory(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    other = await staff(backend, "c-dg01", RoleName.COORDINATOR, "DG01")
    base = {
        "factory_code": "SZ01",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "topic": "Calling home",
        "language": "zh_Hans",
        "capacity": 30,
        "now": NOW,
    }
    wrong = [
        ({"starts_at": NOW - timedelta(hours=1)}, "times"),
        ({"ends_at": START}, "times"),
        ({"ends_at": START + timedelta(hours=7)}, "times"),
        ({"topic": "  "}, "topic"),
        ({"topic": "x" * 121}, "topic"),
        ({"language": "fr"}, "language"),
        ({"capacity": 0}, "capacity"),
    ]
    async with backend.db.uow() as uow:
        for changes, problem in wrong:
            with pytest.raises(InvalidInput, match=problem):
                await workshops.create_workshop(uow, **{**base, **changes})
        with pytest.raises(Forbidden):
            await workshops.create_workshop(uow, **base, actor_person_id=other)
        with pytest.raises(NotFound):
            await workshops.create_workshop(uow, **{**base, "factory_code": "NOPE"})


async def test_a_worker_at_another_factory_neither_sees_nor_books_the_workshop(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    last_seat = await workshop(backend, capacity=1)
    here, elsewhere, nowhere = await people(backend, 3)
    await works_at(backend.db, elsewhere, "DG01")
    async with backend.db.uow() as uow:
        assert (await workshops.workshop_for_worker(uow, here, last_seat)).id == last_seat
        # No factory chosen yet is no factory's worker either.
        await uow.session.execute(
            update(PersonRow).where(PersonRow.id == nowhere).values(factory_id=None)
        )
        await uow.commit()
    for outsider in (elsewhere, nowhere):
        async with backend.db.uow() as uow:
            with pytest.raises(NotFound):
                await workshops.workshop_for_worker(uow, outsider, last_seat)
        with pytest.raises(NotFound):
            await book(backend, notify, outsider, last_seat)
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(BookingRow)) == 0
        assert (await workshops.get_workshop(uow, last_seat)).seats_taken == 0
    assert (await book(backend, notify, here, last_seat)).status == "confirmed"


async def test_seats_then_the_queue_and_no_double_or_overlapping_bookings(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    first = await workshop(backend, capacity=1)
    overlapping = await workshop(backend, start=START + timedelta(hours=2))
    later = await workshop(backend, start=START + timedelta(days=1))
    a, b = await people(backend, 2)
    seat = await book(backend, notify, a, first)
    queued = await book(backend, notify, b, first)
    assert (seat.status, queued.status, queued.queue_position) == ("confirmed", "waitlisted", 1)
    assert len(seat.code) == 4
    with pytest.raises(ConflictError, match="already"):
        await book(backend, notify, a, first)
    with pytest.raises(ConflictError, match="overlap"):
        await book(backend, notify, a, overlapping)
    assert (await book(backend, notify, a, later)).status == "confirmed"
    with pytest.raises(InvalidInput, match="started"):
        await book(backend, notify, b, later, now=START + timedelta(days=1, minutes=1))
    with pytest.raises(NotFound):
        await book(backend, notify, b, 999)


async def test_a_check_in_code_drawn_twice_is_drawn_again_and_takes_one_seat(
    backend: Backend, translators, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend)
    a, b = await people(backend, 2)
    drawn = iter(["AAAA", "AAAA", "BBBB"])
    monkeypatch.setattr(workshops, "_code", lambda _length: next(drawn))
    first = await book(backend, notify, a, workshop_id)
    second = await book(backend, notify, b, workshop_id)
    assert (first.code, second.code) == ("AAAA", "BBBB")
    assert first.status == second.status == "confirmed"
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(WorkshopRow.seats_taken)) == 2
        codes = await uow.session.scalars(select(BookingRow.code).order_by(BookingRow.id))
        assert list(codes) == ["AAAA", "BBBB"]


async def test_200_concurrent_bookings_for_30_seats_confirm_exactly_30(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=30)
    ids = await people(backend, 200)
    if backend.name == "postgresql":
        # Half of them from another process, racing this one.
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOOKER),
            backend.url,
            str(workshop_id),
            *map(str, ids[100:]),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert other.stdout is not None and other.stdin is not None
        assert await other.stdout.readline() == b"ready\n"
        other.stdin.write(b"go\n")
        mine = ids[:100]
    else:
        other, mine = None, ids
    results = await asyncio.gather(*(book(backend, notify, p, workshop_id) for p in mine))
    statuses = [r.status for r in results]
    if other is not None:
        out, _ = await other.communicate()
        assert other.returncode == 0
        statuses += json.loads(out)
    assert (statuses.count("confirmed"), statuses.count("waitlisted")) == (30, 170)
    async with backend.db.uow() as uow:
        taken = await uow.session.scalar(select(WorkshopRow.seats_taken))
        queue = list(
            await uow.session.scalars(
                select(BookingRow.id)
                .where(BookingRow.status == "waitlisted")
                .order_by(BookingRow.id)
            )
        )
        positions = [
            (await workshops.my_bookings(uow, row.person_id, NOW))[0].queue_position
            for row in await uow.session.scalars(
                select(BookingRow).where(BookingRow.status == "waitlisted").order_by(BookingRow.id)
            )
        ]
    assert taken == 30 and len(queue) == 170
    assert positions == list(range(1, 171))


async def test_a_freed_seat_is_offered_in_turn_and_closes_two_hours_before_the_start(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=1)
    a, b, c = await people(backend, 3)
    seat = await book(backend, notify, a, workshop_id)
    second = await book(backend, notify, b, workshop_id)
    third = await book(backend, notify, c, workshop_id)
    async with backend.db.uow() as uow:
        offered = await workshops.cancel_booking(uow, notify, a, seat.id, now=NOW)
        await uow.commit()
    assert offered == second.id
    async with backend.db.uow() as uow:
        row = await uow.session.get(BookingRow, second.id)
        assert row is not None and row.offer_expires_at == NOW + timedelta(hours=12)
        ended = await workshops.expire_offers(uow, notify, NOW + timedelta(hours=13))
        await uow.commit()
    assert ended == [(second.id, third.id)]
    # The next offer made late is held only until two hours before the start.
    async with backend.db.uow() as uow:
        row = await uow.session.get(BookingRow, third.id)
        assert row is not None and row.status == "offered"
        assert row.offer_expires_at == NOW + timedelta(hours=25)
        with pytest.raises(NotFound):
            await workshops.answer_offer(uow, notify, a, third.id, accept=True, now=NOW)
        taken, _ = await workshops.answer_offer(
            uow, notify, c, third.id, accept=True, now=NOW + timedelta(hours=14)
        )
        await uow.commit()
    assert taken.status == "confirmed"
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):  # pressed twice
            await workshops.answer_offer(uow, notify, c, third.id, accept=True, now=NOW)
        kinds = [
            row.idempotency_key.split(":")[2]
            for row in await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        ]
    assert sorted(kinds) == ["offer", "offer", "offer_expired"]
    # Too near the start to offer: the seat is simply free.
    late = START - timedelta(hours=1)
    async with backend.db.uow() as uow:
        assert await workshops.cancel_booking(uow, notify, c, third.id, now=late) is None
        assert (await workshops.get_workshop(uow, workshop_id)).seats_taken == 0
    assert await status(backend, second.id) == "cancelled"


def test_quiet_hours_move_a_night_time_push_to_seven_in_the_morning() -> None:
    zone = "Asia/Shanghai"
    evening = datetime(2027, 7, 13, 13, 30, tzinfo=UTC)  # 21:30 local: fine
    night = datetime(2027, 7, 13, 15, 0, tzinfo=UTC)  # 23:00 local
    early = datetime(2027, 7, 13, 21, 0, tzinfo=UTC)  # 05:00 local on the 14th
    seven = datetime(2027, 7, 13, 23, 0, tzinfo=UTC)  # 07:00 local on the 14th
    assert out_of_quiet_hours(evening, zone) == evening
    assert out_of_quiet_hours(night, zone) == seven
    assert out_of_quiet_hours(early, zone) == seven
    assert out_of_quiet_hours(seven, zone) == seven


async def test_reminders_fire_once_out_of_quiet_hours_and_not_for_cancelled_bookings(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    # 07:30 local: the 24-hour reminder falls at 07:30 the day before; the 2-hour one at
    # 05:30 is in quiet hours, moved to 07:00 (still before the start).
    start = datetime(2027, 7, 13, 23, 30, tzinfo=UTC)
    workshop_id = await workshop(backend, start=start)
    a, b = await people(backend, 2)
    kept = await book(backend, notify, a, workshop_id)
    dropped = await book(backend, notify, b, workshop_id)
    async with backend.db.uow() as uow:
        await workshops.cancel_booking(uow, notify, b, dropped.id, now=NOW)
        await uow.commit()
        due = {
            (row.kind, row.subject_id): row.due_at
            for row in await uow.session.scalars(select(ScheduledPushRow))
        }
    # The workshop's, planned with it: one each, however many are booked.
    assert due == {
        ("workshop.remind.1440m", workshop_id): start - timedelta(hours=24),
        ("workshop.remind.120m", workshop_id): datetime(2027, 7, 13, 23, 0, tzinfo=UTC),
        ("workshop.feedback", workshop_id): start + timedelta(hours=3),
    }
    # Nothing is due yet; then a day passes (twice, as two workers would): one reminder, to
    # the seat still held.
    assert await send_due_pushes(backend.db, notify) == 0
    async with backend.db.uow() as uow:
        await uow.session.execute(
            ScheduledPushRow.__table__.update()
            .where(ScheduledPushRow.kind == "workshop.remind.1440m")
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    assert await send_due_pushes(backend.db, notify) == 1
    assert await send_due_pushes(backend.db, notify) == 0
    async with backend.db.uow() as uow:
        (row,) = list(await uow.session.scalars(select(OutboxRow)))
    text = replies_from_json(row.content)[0].text
    assert "Calling home" in text and kept.code in text
    # A Chinese reader is told the place in Chinese only.
    assert "食堂二楼" in text and "Canteen" not in text
    # The local day with its weekday and the local hours, in Chinese: the 14th from 07:30,
    # not the 13th at 23:30 as in UTC.
    day = weekday_text(date(2027, 7, 14), "zh_Hans")  # a Wednesday
    hours = hours_text(time(7, 30), time(10, 30), "zh_Hans")
    assert f"{day} {hours}" in text


async def test_check_in_by_booking_code_or_door_code_and_feedback_once(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    first = await workshop(backend, capacity=1)
    other = await workshop(backend, start=START + timedelta(days=1))
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    a, b, c = await people(backend, 3)
    seat = await book(backend, notify, a, first)
    queued = await book(backend, notify, b, first)
    elsewhere = await book(backend, notify, c, other)
    async with backend.db.uow() as uow:
        door = (await workshops.get_workshop(uow, first)).door_code
        with pytest.raises(NotFound):
            await workshops.check_in_by_code(uow, coordinator, first, "ZZZZ")
        with pytest.raises(InvalidInput, match="other_workshop"):
            await workshops.check_in_by_code(uow, coordinator, first, elsewhere.code)
        with pytest.raises(ConflictError):
            await workshops.check_in_by_code(uow, coordinator, first, queued.code)
        with pytest.raises(Forbidden):
            await workshops.check_in_by_code(uow, a, first, seat.code)
        with pytest.raises(InvalidInput, match="not_attended"):
            await workshops.rate(uow, a, seat.id, 5)
        # The coordinator keeps the worker's rule: not before an hour ahead, not after the end.
        for when in (START - timedelta(hours=2), START + timedelta(hours=4)):
            with pytest.raises(InvalidInput, match="not_now"):
                await workshops.check_in_by_code(uow, coordinator, first, seat.code, now=when)
        # At the door, someone else's booking code is no code at all.
        with pytest.raises(NotFound):
            await workshops.check_in_at_door(uow, c, seat.code, now=START)
        done, changed = await workshops.check_in_by_code(
            uow, coordinator, first, f" {seat.code.lower()} ", now=START
        )
        assert changed and done.checked_in_at == START
        _again, changed = await workshops.check_in_by_code(uow, coordinator, first, seat.code)
        assert not changed
        with pytest.raises(InvalidInput, match="not_now"):
            await workshops.check_in_at_door(uow, c, door, now=START - timedelta(hours=2))
        with pytest.raises(ConflictError, match="no_booking"):
            await workshops.check_in_at_door(uow, c, door, now=START)
        with pytest.raises(NotFound):
            await workshops.check_in_at_door(uow, c, "NOPE42", now=START)
        # One's own booking code works at the door as the door code does.
        with pytest.raises(InvalidInput, match="not_now"):
            await workshops.check_in_at_door(uow, c, elsewhere.code, now=START)
        mine, changed = await workshops.check_in_at_door(
            uow, c, elsewhere.code.lower(), now=START + timedelta(days=1)
        )
        assert changed and mine.id == elsewhere.id
        for wrong in (0, 6, -1):
            with pytest.raises(InvalidInput, match="rating"):
                await workshops.rate(uow, a, seat.id, wrong)
        assert await workshops.rate(uow, a, seat.id, 4)
        assert not await workshops.rate(uow, a, seat.id, 1)  # once
        with pytest.raises(InvalidInput, match="comment"):
            await workshops.add_comment(uow, a, seat.id, "x" * 501)
        await workshops.add_comment(uow, a, seat.id, "Very useful, thank you")
        await uow.commit()


async def test_cancelling_a_workshop_tells_everyone_booked_or_waiting(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=1)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    a, b = await people(backend, 2)
    await book(backend, notify, a, workshop_id)
    await book(backend, notify, b, workshop_id)
    async with backend.db.uow() as uow:
        with pytest.raises(Forbidden):
            await workshops.cancel_workshop(uow, notify, a, workshop_id)
        told = await workshops.cancel_workshop(uow, notify, coordinator, workshop_id, now=NOW)
        await uow.commit()
    assert told == [a, b]
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):
            await workshops.cancel_workshop(uow, notify, coordinator, workshop_id)
        pushes = list(await uow.session.scalars(select(OutboxRow)))
        left = await uow.session.scalar(select(func.count()).select_from(ScheduledPushRow))
    assert len(pushes) == 2 and left == 0
    assert all("取消" in replies_from_json(p.content)[0].text for p in pushes)  # in Chinese


async def test_moving_a_workshop_tells_those_booked_and_moves_their_reminders(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=1)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    a, b, c = await people(backend, 3)
    await book(backend, notify, a, workshop_id)
    await book(backend, notify, b, workshop_id)
    await book(backend, notify, c, workshop_id)
    later = START + timedelta(days=2)
    async with backend.db.uow() as uow:
        with pytest.raises(Forbidden):
            await workshops.update_workshop(
                uow, notify, a, workshop_id, workshops.WorkshopChanges(capacity=5)
            )
        with pytest.raises(InvalidInput, match="times"):
            await workshops.update_workshop(
                uow,
                notify,
                coordinator,
                workshop_id,
                workshops.WorkshopChanges(ends_at=START - timedelta(hours=1)),
                now=NOW,
            )
        moved = await workshops.update_workshop(
            uow,
            notify,
            coordinator,
            workshop_id,
            workshops.WorkshopChanges(
                starts_at=later, ends_at=later + timedelta(hours=3), capacity=2
            ),
            now=NOW,
        )
        await uow.commit()
    assert (moved.capacity, moved.seats_taken) == (2, 2)
    async with backend.db.uow() as uow:
        due = await uow.session.scalar(
            select(ScheduledPushRow.due_at).where(
                ScheduledPushRow.subject_id == workshop_id,
                ScheduledPushRow.kind == "workshop.remind.1440m",
            )
        )
        kinds = sorted(
            row.idempotency_key.split(":")[2]
            for row in await uow.session.scalars(select(OutboxRow))
        )
        with pytest.raises(InvalidInput, match="capacity"):
            await workshops.update_workshop(
                uow,
                notify,
                coordinator,
                workshop_id,
                workshops.WorkshopChanges(capacity=1),
                now=NOW,
            )
        with pytest.raises(ConflictError, match="started"):
            await workshops.update_workshop(
                uow,
                notify,
                coordinator,
                workshop_id,
                workshops.WorkshopChanges(topic="New"),
                now=later,
            )
    assert due == later - timedelta(hours=24)
    # Everyone booked or waiting hears of the new time; the second in line is offered a seat.
    assert kinds == ["moved", "moved", "moved", "offer"]


async def test_two_workers_queue_each_due_reminder_once(backend: Backend, translators) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=40)
    for person in await people(backend, 30):
        await book(backend, notify, person, workshop_id)
    async with backend.db.uow() as uow:
        await uow.session.execute(
            ScheduledPushRow.__table__.update()
            .where(ScheduledPushRow.kind == "workshop.remind.1440m")
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    # A second engine, as a second worker process would have.
    other_engine = create_engine(backend.url)
    try:
        other = Database(create_session_factory(other_engine))
        counts = await asyncio.gather(
            send_due_pushes(backend.db, notify), send_due_pushes(other, notify)
        )
    finally:
        await other_engine.dispose()
    async with backend.db.uow() as uow:
        queued = await uow.session.scalar(select(func.count()).select_from(OutboxRow))
        done = await uow.session.scalar(
            select(func.count())
            .select_from(ScheduledPushRow)
            .where(ScheduledPushRow.done_at.is_not(None))
        )
    assert sum(counts) == queued == 30 and done == 1  # the workshop's reminder, to all 30


async def due_now(backend: Backend, kind: str) -> None:
    """Make the pushes of `kind` due (the worker goes by the real clock)."""
    async with backend.db.uow() as uow:
        await uow.session.execute(
            ScheduledPushRow.__table__.update()
            .where(ScheduledPushRow.kind == kind)
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()


async def told(backend: Backend) -> list[tuple[str, str]]:
    """Who was told what, from the outbox's keys: (booking id, event)."""
    async with backend.db.uow() as uow:
        keys = await uow.session.scalars(select(OutboxRow.idempotency_key))
        return sorted(tuple(key.split(":")[1:3]) for key in keys)  # type: ignore[misc]


async def test_a_workshops_reminder_reaches_the_seats_held_when_due_and_feedback_who_came(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    workshop_id = await workshop(backend, capacity=4)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    a, b, c, d, e = await people(backend, 5)
    came = await book(backend, notify, a, workshop_id)
    absent = await book(backend, notify, b, workshop_id)
    forgotten = await book(backend, notify, c, workshop_id)
    dropped = await book(backend, notify, d, workshop_id)
    waiting = await book(backend, notify, e, workshop_id)
    async with backend.db.uow() as uow:  # the seat is offered to the one waiting, not taken
        await workshops.cancel_booking(uow, notify, d, dropped.id, now=NOW)
        await uow.commit()
    assert await status(backend, waiting.id) == "offered"
    await due_now(backend, "workshop.remind.1440m")
    assert await send_due_pushes(backend.db, notify) == 3
    reminded = [(str(n.id), "workshop.remind.1440m") for n in (came, absent, forgotten)]
    assert sorted(t for t in await told(backend) if t[1].startswith("workshop.")) == sorted(
        reminded
    )
    async with backend.db.uow() as uow:
        for seat in (came, forgotten):
            await workshops.check_in_by_code(uow, coordinator, workshop_id, seat.code, now=START)
        await uow.commit()
    async with backend.db.uow() as uow:  # during the workshop: the booking stays as it was
        await forget_person(uow, backend.notify, notify, c, now=START + timedelta(hours=1))
        await uow.commit()
    await due_now(backend, "workshop.feedback")
    assert await send_due_pushes(backend.db, notify) == 1
    assert [t for t in await told(backend) if t[1] == "feedback"] == [(str(came.id), "feedback")]


async def test_a_workshop_planned_before_its_reminders_were_gets_them_at_its_first_booking(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators, reminders=(timedelta(hours=48),))
    workshop_id = await workshop(backend)
    async with backend.db.uow() as uow:  # as migration 0014 leaves one nobody had booked
        await uow.session.execute(ScheduledPushRow.__table__.delete())
        await uow.commit()
    a, b = await people(backend, 2)
    await book(backend, notify, a, workshop_id)
    await book(backend, notify, b, workshop_id)
    async with backend.db.uow() as uow:
        due = {
            (row.kind, row.subject_id): row.due_at
            for row in await uow.session.scalars(select(ScheduledPushRow))
        }
    assert due == {
        ("workshop.remind.2880m", workshop_id): START - timedelta(hours=48),
        ("workshop.feedback", workshop_id): START + timedelta(hours=3),
    }


async def test_one_person_booking_workshops_at_the_same_time_at_once_gets_one_seat(
    backend: Backend, translators
) -> None:
    # As from Telegram and WeChat at once: on PostgreSQL the bookings really race.
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    same_time = [await workshop(backend, start=START + timedelta(minutes=n)) for n in range(8)]
    (person,) = await people(backend, 1)

    async def one(workshop_id: int) -> str:
        try:
            return (await book(backend, notify, person, workshop_id)).status
        except ConflictError as problem:
            return str(problem)

    results = await asyncio.gather(*(one(w) for w in same_time))
    assert sorted(results) == ["confirmed", *["overlap"] * 7]
    async with backend.db.uow() as uow:
        taken = await uow.session.scalars(select(WorkshopRow.seats_taken))
        assert sorted(taken) == [0] * 7 + [1]


async def test_a_booking_code_of_another_factory_is_no_code_to_a_coordinator(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    notify = notifier(backend, translators)
    ours = await workshop(backend)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    async with backend.db.uow() as uow:
        theirs = await workshops.create_workshop(
            uow,
            factory_code="DG01",
            starts_at=START,
            ends_at=START + timedelta(hours=3),
            topic="Calling home",
            language="zh_Hans",
            capacity=5,
            place=Bilingual(en="Hall"),
            now=NOW,
        )
        dg01 = await get_factory_by_code(uow, "DG01")
        assert dg01 is not None
        person, _ = await touch_identity(uow, "console", "dg01-worker")
        await set_factory(uow, person.id, dg01.id)
        await uow.commit()
    seat = await book(backend, notify, person.id, theirs.id)
    async with backend.db.uow() as uow:
        # Not "that code is for another workshop": it would tell them the code exists.
        with pytest.raises(NotFound, match="code"):
            await workshops.check_in_by_code(uow, coordinator, ours, seat.code)
