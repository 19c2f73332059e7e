"""Migrant Parent Training: half-day workshops, their seats, queue, reminders and check-in.

A seat is taken by one conditional UPDATE (`ffs_bot.services.seats`); bookings of one
workshop go one at a time on its row, so the queue is the order of commits. A freed seat is
offered to the first in the queue until the offer lapses (by default after 12 hours, and
never later than 2 hours before the start), then it passes on.

Reminders and the feedback question are the workshop's: scheduled when it is planned (or at
its first booking, for one planned before they were) and moved with it; when one is due, the
worker sends it to everyone who then holds a seat (`fire_push`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, aliased

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import (
    BookingRow,
    FactoryRow,
    FeedbackRow,
    PersonRow,
    ScheduledPushRow,
    WorkshopRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import LANGUAGES
from ffs_bot.model import NO_TEXT, Bilingual
from ffs_bot.schedule import DuePush, drop_pushes, out_of_quiet_hours, schedule_pushes
from ffs_bot.services import seats
from ffs_bot.services.audit import record_event
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.staff import require_factory, staff_scope
from ffs_bot.workshop_notices import WorkshopNotifier, WorkshopRules

__all__ = [
    "FEEDBACK",
    "MAX_CAPACITY",
    "MAX_COMMENT",
    "MAX_TOPIC",
    "REMINDER",
    "Booked",
    "Booking",
    "BookingStatus",
    "Workshop",
    "WorkshopChanges",
    "add_comment",
    "answer_offer",
    "book",
    "bookings_of",
    "cancel_booking",
    "cancel_workshop",
    "check_in_at_door",
    "check_in_by_code",
    "check_in_open",
    "create_workshop",
    "expire_offers",
    "fire_push",
    "get_workshop",
    "my_bookings",
    "rate",
    "split_at_today",
    "upcoming_workshops",
    "update_workshop",
    "workshop_for_staff",
    "workshop_for_worker",
    "workshops_for_staff",
]

MAX_TOPIC = 120
MAX_PLACE = 200
MAX_TRAINER = 100
MAX_CAPACITY = 500
MAX_COMMENT = 500
MAX_LENGTH = timedelta(hours=6)  # a half day, with room for a long morning
# Check-in opens this long before the start and closes at the end: one rule for a worker at
# the door and for the coordinator checking them in (the messages say "an hour").
CHECK_IN_OPENS = timedelta(hours=1)
REMINDER = "workshop.remind"  # + ".24h" and so on
FEEDBACK = "workshop.feedback"
# Codes people read aloud or type on a phone: no 0/O, 1/I/L.
CODE_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
OFFER_EXPIRED = "offer_expired"
OFFER_DECLINED = "offer_declined"
WORKSHOP_CANCELLED = "workshop_cancelled"


class BookingStatus:
    """Where a booking stands (plain strings, stored as they are)."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"  # a freed seat held until the offer lapses
    CANCELLED = "cancelled"


HOLDS_SEAT = (BookingStatus.CONFIRMED, BookingStatus.OFFERED)
LIVE = (BookingStatus.CONFIRMED, BookingStatus.OFFERED, BookingStatus.WAITLISTED)


@dataclass(frozen=True, slots=True)
class Workshop:
    """A workshop as workers and staff see it."""

    id: int
    factory_id: int
    starts_at: datetime
    ends_at: datetime
    topic: str
    language: str
    capacity: int
    seats_taken: int
    place: Bilingual
    trainer: str
    door_code: str
    cancelled: bool
    timezone: str = "Asia/Shanghai"

    @property
    def seats_left(self) -> int:
        """Seats not yet held."""
        return max(self.capacity - self.seats_taken, 0)


@dataclass(frozen=True, slots=True)
class Booking:
    """A booking, with its place in the queue when waitlisted."""

    id: int
    workshop_id: int
    person_id: int
    status: str
    code: str
    queue_position: int | None = None
    offer_expires_at: datetime | None = None
    checked_in_at: datetime | None = None
    reason: str = ""
    workshop: Workshop | None = field(default=None, compare=False)
    person_name: str = ""


_ZONES = "workshops.factory_timezones"  # the key of the timezones read, in session.info


def _workshop(row: WorkshopRow, timezone: str) -> Workshop:
    return Workshop(
        id=row.id,
        factory_id=row.factory_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        topic=row.topic,
        language=row.language,
        capacity=row.capacity,
        seats_taken=row.seats_taken,
        place=Bilingual(row.place, row.place_en),
        trainer=row.trainer,
        door_code=row.door_code,
        cancelled=row.cancelled_at is not None,
        timezone=timezone,
    )


async def _timezone(uow: UnitOfWork, factory_id: int) -> str:
    # Read once per unit of work: a booking, its reminders and the list of bookings shown
    # after it (one per booking) all ask for it.
    zones: dict[int, str] = uow.session.info.setdefault(_ZONES, {})
    zone = zones.get(factory_id)
    if zone is None:
        found = await uow.session.scalar(
            select(FactoryRow.timezone).where(FactoryRow.id == factory_id)
        )
        zone = zones[factory_id] = found or "Asia/Shanghai"
    return zone


async def _queue_position(uow: UnitOfWork, row: BookingRow) -> int | None:
    if row.status != BookingStatus.WAITLISTED:
        return None
    return await _waiting_ahead(uow, row.workshop_id, row.id)


async def _waiting_ahead(uow: UnitOfWork, workshop_id: int, booking_id: int) -> int:
    """The place in the workshop's queue of a waitlisted booking (1 is next)."""
    ahead = await uow.session.scalar(
        select(func.count())
        .select_from(BookingRow)
        .where(
            BookingRow.workshop_id == workshop_id,
            BookingRow.status == BookingStatus.WAITLISTED,
            BookingRow.id <= booking_id,
        )
    )
    return int(ahead or 0)


async def _booking(uow: UnitOfWork, row: BookingRow) -> Booking:
    return Booking(
        id=row.id,
        workshop_id=row.workshop_id,
        person_id=row.person_id,
        status=row.status,
        code=row.code,
        queue_position=await _queue_position(uow, row),
        offer_expires_at=row.offer_expires_at,
        checked_in_at=row.checked_in_at,
        reason=row.reason,
    )


def _clean(text: str, limit: int, problem: str, *, required: bool = False) -> str:
    cleaned = " ".join(text.split())
    if len(cleaned) > limit or (required and not cleaned):
        raise InvalidInput(problem)
    return cleaned


def _place(place: Bilingual) -> Bilingual:
    return Bilingual(_clean(place.zh, MAX_PLACE, "place"), _clean(place.en, MAX_PLACE, "place"))


def _code(length: int) -> str:
    return "".join(secrets.choice(CODE_LETTERS) for _ in range(length))


async def _new_code(uow: UnitOfWork, column: InstrumentedAttribute[str], length: int) -> str:
    for _attempt in range(10):
        code = _code(length)
        if await uow.session.scalar(select(func.count()).where(column == code)) == 0:
            return code
    raise RuntimeError("no free code after 10 tries")


async def create_workshop(
    uow: UnitOfWork,
    *,
    factory_code: str,
    starts_at: datetime,
    ends_at: datetime,
    topic: str,
    language: str,
    capacity: int,
    place: Bilingual = NO_TEXT,
    trainer: str = "",
    actor_person_id: int | None = None,
    rules: WorkshopRules | None = None,
    now: datetime | None = None,
) -> Workshop:
    """Plan a workshop at a factory, with its reminders; an acting person must run the factory.

    `rules` says when reminders go (the defaults when not given).

    Raises:
        NotFound: no such factory.
        Forbidden: the acting person does not run the factory.
        InvalidInput: "times" (in the past, backwards or longer than half a day), "topic",
            "language", "capacity", "place" or "trainer".
    """
    now = now or utcnow()
    factory = await uow.session.scalar(
        select(FactoryRow).where(FactoryRow.code == normalise_code(factory_code))
    )
    if factory is None:
        raise NotFound(f"factory {factory_code}")
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, factory.id)
    if not now < starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise InvalidInput("times")
    if language not in LANGUAGES:
        raise InvalidInput("language")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput("capacity")
    place = _place(place)
    row = WorkshopRow(
        factory_id=factory.id,
        starts_at=starts_at,
        ends_at=ends_at,
        topic=_clean(topic, MAX_TOPIC, "topic", required=True),
        language=language,
        capacity=capacity,
        seats_taken=0,
        place=place.zh,
        place_en=place.en,
        trainer=_clean(trainer, MAX_TRAINER, "trainer"),
        door_code=await _new_code(uow, WorkshopRow.door_code, 6),
    )
    uow.session.add(row)
    await uow.session.flush()
    await record_event(
        uow,
        "workshop.created",
        actor_person_id=actor_person_id,
        subject_type="workshop",
        subject_id=row.id,
        factory_id=factory.id,
        capacity=capacity,
    )
    workshop = _workshop(row, factory.timezone)
    await schedule_reminders(uow, rules or WorkshopRules(), workshop, now)
    return workshop


async def get_workshop(uow: UnitOfWork, workshop_id: int) -> Workshop:
    """Return a workshop.

    Raises:
        NotFound: no such workshop.
    """
    row = await uow.session.get(WorkshopRow, workshop_id)
    if row is None:
        raise NotFound(f"workshop {workshop_id}")
    return _workshop(row, await _timezone(uow, row.factory_id))


async def workshop_for_worker(uow: UnitOfWork, person_id: int, workshop_id: int) -> Workshop:
    """Return a workshop at the person's factory, the only ones a worker may see and book.

    Raises:
        NotFound: no such workshop, or one at another factory (the same answer for both).
    """
    found = (
        await uow.session.execute(
            select(WorkshopRow, FactoryRow.timezone)
            .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
            .join(PersonRow, PersonRow.factory_id == WorkshopRow.factory_id)
            .where(WorkshopRow.id == workshop_id, PersonRow.id == person_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"workshop {workshop_id}")
    row, zone = found
    return _workshop(row, zone or "Asia/Shanghai")


async def upcoming_workshops(
    uow: UnitOfWork, factory_id: int, now: datetime | None = None, limit: int = 10
) -> list[Workshop]:
    """Workshops at a factory that have not started and are not cancelled, soonest first."""
    rows = await uow.session.scalars(
        select(WorkshopRow)
        .where(
            WorkshopRow.factory_id == factory_id,
            WorkshopRow.cancelled_at.is_(None),
            WorkshopRow.starts_at > (now or utcnow()),
        )
        .order_by(WorkshopRow.starts_at, WorkshopRow.id)
        .limit(limit)
    )
    zone = await _timezone(uow, factory_id)
    return [_workshop(row, zone) for row in rows]


async def schedule_reminders(
    uow: UnitOfWork, rules: WorkshopRules, workshop: Workshop, now: datetime
) -> None:
    """Schedule a workshop's reminders, each out of quiet hours and before the start.

    A reminder due at night goes at 07:00, or not at all when the workshop has begun by then;
    one whose time has passed already (a workshop planned the day before) is not sent.
    """
    pushes = []
    for before in rules.reminders:
        kind = f"{REMINDER}.{int(before.total_seconds() // 60)}m"
        due = out_of_quiet_hours(workshop.starts_at - before, workshop.timezone)
        if now <= due < workshop.starts_at:
            pushes.append((kind, due))
    pushes.append((FEEDBACK, out_of_quiet_hours(workshop.ends_at, workshop.timezone)))
    await schedule_pushes(uow, workshop.id, pushes)


def reminder_kinds(rules: WorkshopRules) -> list[str]:
    """The scheduled-push kinds of a workshop under `rules`."""
    minutes = [int(before.total_seconds() // 60) for before in rules.reminders]
    return [*(f"{REMINDER}.{m}m" for m in minutes), FEEDBACK]


_LATER = aliased(BookingRow)
# The person's bookings of workshops not over (parameters person_id and now), with the
# workshops and their timezones, as their list shows them: the live ones, and the cancelled
# ones (the workshop called off, an offer passed on or lapsed), so the person still reads
# why; not one the person booked the same workshop again after.
_MINE = (
    select(BookingRow, WorkshopRow, FactoryRow.timezone.label("zone"))
    .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
    .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
    .where(
        BookingRow.person_id == bindparam("person_id"),
        WorkshopRow.ends_at > bindparam("now"),
        or_(
            and_(BookingRow.status.in_(LIVE), WorkshopRow.cancelled_at.is_(None)),
            and_(
                BookingRow.status == BookingStatus.CANCELLED,
                ~exists().where(
                    _LATER.person_id == BookingRow.person_id,
                    _LATER.workshop_id == BookingRow.workshop_id,
                    _LATER.id > BookingRow.id,
                ),
            ),
        ),
    )
)


def _hold_statement(dialect: str) -> Any:
    # One statement for the workshop to book, whether its reminders are scheduled (every
    # workshop's pushes include the feedback question) and the person's bookings beside it (a
    # row each, or one row of NULLs): on PostgreSQL it locks the workshop's row and the
    # person's, not the bookings'.
    mine = _MINE.subquery("mine")
    scheduled = exists().where(
        ScheduledPushRow.kind == FEEDBACK, ScheduledPushRow.subject_id == WorkshopRow.id
    )
    query = (
        select(
            WorkshopRow,
            FactoryRow.timezone,
            scheduled,
            aliased(BookingRow, mine),
            aliased(WorkshopRow, mine),
            mine.c.zone,
        )
        .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
        # Workers book at their own factory only: another factory's workshop is not found.
        .join(
            PersonRow,
            (PersonRow.id == bindparam("person_id"))
            & (PersonRow.factory_id == WorkshopRow.factory_id),
        )
        .outerjoin(mine, true())
        .where(WorkshopRow.id == bindparam("workshop_id"))
        .execution_options(populate_existing=True)
    )
    if dialect == "postgresql":
        query = query.with_for_update(of=[PersonRow, WorkshopRow])
    return query


_HOLD = {dialect: _hold_statement(dialect) for dialect in ("sqlite", "postgresql")}


def _mine_order(booking: Booking) -> tuple[datetime, int]:
    """Where a booking comes in the person's list: the soonest workshop first."""
    assert booking.workshop is not None
    return (booking.workshop.starts_at, booking.id)


async def _hold(
    uow: UnitOfWork, person_id: int, workshop_id: int, now: datetime
) -> tuple[WorkshopRow, bool, list[tuple[BookingRow, WorkshopRow]]]:
    """Read a workshop to book it, held as `seats.lock` does, with the person's bookings.

    On PostgreSQL the person's row is locked in the same statement: one person's bookings go
    one at a time, so two overlapping ones cannot both pass the insert's check (the bookings
    read here are as they were when the statement began, before any wait: for the list
    only). The bookings are `_MINE`'s; the flag says whether the workshop's reminders are
    scheduled.

    Raises:
        NotFound: no such workshop, or one at another factory than the person's.
    """
    values = {"workshop_id": workshop_id, "person_id": person_id, "now": now}
    rows = (await uow.session.execute(_HOLD[uow.dialect], values)).all()
    if not rows:
        raise NotFound(f"workshop {workshop_id}")
    zones = uow.session.info.setdefault(_ZONES, {})
    row, zone, scheduled = rows[0][:3]
    zones[row.factory_id] = zone or "Asia/Shanghai"
    mine = []
    for _row, _zone, _scheduled, booking, other, other_zone in rows:
        if booking is not None:
            zones[other.factory_id] = other_zone or "Asia/Shanghai"
            mine.append((booking, other))
    return row, bool(scheduled), mine


@dataclass(frozen=True, slots=True)
class Booked:
    """A booking just made, with the person's bookings as `my_bookings` lists them."""

    booking: Booking
    mine: list[Booking]


async def book(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    *,
    person_id: int,
    workshop_id: int,
    now: datetime | None = None,
) -> Booked:
    """Book a seat, or a place in the queue when the workshop is full; the workshop with it.

    The person's bookings come with it, read with the workshop before the new one was made.

    Raises:
        NotFound: no such workshop, or one at another factory than the person's.
        InvalidInput: "started" (or over, or cancelled).
        ConflictError: "already" (a live booking for it) or "overlap" (another workshop then).
    """
    now = now or utcnow()
    row, scheduled, mine = await _hold(uow, person_id, workshop_id, now)
    if row.cancelled_at is not None or row.starts_at <= now:
        raise InvalidInput("started")
    seated = await seats.take_seat(uow, WorkshopRow, workshop_id)
    status = BookingStatus.CONFIRMED if seated else BookingStatus.WAITLISTED
    added = await _add_booking(uow, person_id, row, status)
    if isinstance(added, str):
        # Booked already, or another workshop then; the caller may still commit (to say so),
        # so the seat goes back.
        if seated:
            await seats.release_seat(uow, WorkshopRow, workshop_id)
        raise ConflictError(added)
    booking_id, code = added
    await record_event(
        uow,
        "booking.created",
        actor_person_id=person_id,
        subject_type="booking",
        subject_id=booking_id,
        status=status,
    )
    workshop = _workshop(row, await _timezone(uow, row.factory_id))
    if not scheduled:  # planned before a workshop's reminders were scheduled with it
        await schedule_reminders(uow, notify.rules, workshop, now)
    made = Booking(
        id=booking_id,
        workshop_id=workshop_id,
        person_id=person_id,
        status=status,
        code=code,
        queue_position=(None if seated else await _waiting_ahead(uow, workshop_id, booking_id)),
        workshop=workshop,
    )
    # The new booking takes the place of a cancelled one of the same workshop.
    listed = [b for b in await _listed(uow, mine) if b.workshop_id != workshop_id]
    return Booked(made, sorted([made, *listed], key=_mine_order))


_BOOKING = table_of(BookingRow)
_WORKSHOP = table_of(WorkshopRow)
# The workshops of the person's live bookings that overlap the times given (parameters
# person_id, starts_at and ends_at): a workshop overlaps itself.
_OVERLAPPING = (
    select(_BOOKING.c.workshop_id)
    .join(_WORKSHOP, _WORKSHOP.c.id == _BOOKING.c.workshop_id)
    .where(
        _BOOKING.c.person_id == bindparam("person_id", type_=_BOOKING.c.person_id.type),
        _BOOKING.c.status.in_(LIVE),
        _WORKSHOP.c.cancelled_at.is_(None),
        _WORKSHOP.c.starts_at < bindparam("ends_at"),
        _WORKSHOP.c.ends_at > bindparam("starts_at"),
    )
)


def _add_booking_statement(dialect: str) -> Any:
    # Inserts nothing, and returns no id, when the person has a live booking of a workshop at
    # the same time (this one included), or on a clash with a unique index: the code (drawn
    # at random) or the person's live booking of the workshop. The check is part of the
    # insert, so it sees a booking the person made from another channel while this one
    # waited for their row (`_hold`): a statement that began before cannot.
    names = ("workshop_id", "person_id", "status", "code")
    values = select(*(bindparam(name, type_=_BOOKING.c[name].type) for name in names)).where(
        ~_OVERLAPPING.exists()
    )
    return (
        insert_for(dialect)(_BOOKING)
        .from_select(names, values)
        .on_conflict_do_nothing()
        .returning(_BOOKING.c.id)
    )


_ADD_BOOKING = {dialect: _add_booking_statement(dialect) for dialect in ("sqlite", "postgresql")}


async def _add_booking(
    uow: UnitOfWork, person_id: int, workshop: WorkshopRow, status: str
) -> tuple[int, str] | str:
    """Insert a booking with a fresh check-in code: its id and code, or why there is none.

    Why: "already" (a live booking of this workshop) or "overlap" (of another at that time).
    """
    times = {"starts_at": workshop.starts_at, "ends_at": workshop.ends_at}
    for _attempt in range(10):
        code = _code(4)
        values = {"workshop_id": workshop.id, "person_id": person_id, "status": status}
        booking_id = await uow.session.scalar(
            _ADD_BOOKING[uow.dialect], {**values, **times, "code": code}
        )
        if booking_id is not None:
            return booking_id, code
        clashing = set(await uow.session.scalars(_OVERLAPPING, {"person_id": person_id, **times}))
        if clashing:
            return "already" if workshop.id in clashing else "overlap"
    raise RuntimeError("no free code after 10 tries")


async def _own_booking(uow: UnitOfWork, person_id: int, booking_id: int) -> BookingRow:
    row = await uow.session.get(BookingRow, booking_id)
    if row is None or row.person_id != person_id:
        raise NotFound(f"booking {booking_id}")
    return row


async def pass_seat(
    uow: UnitOfWork, notify: WorkshopNotifier, workshop: WorkshopRow, now: datetime
) -> int | None:
    """Offer a freed seat to the first in the queue; else (or too near the start) free it.

    The caller holds the workshop (`seats.lock`). Returns the booking offered the seat.
    """
    rules = notify.rules
    until = min(now + rules.offer_window, workshop.starts_at - rules.offer_closes_before_start)
    first = await uow.session.scalar(
        select(BookingRow)
        .where(
            BookingRow.workshop_id == workshop.id, BookingRow.status == BookingStatus.WAITLISTED
        )
        .order_by(BookingRow.id)
        .limit(1)
    )
    if first is None or until <= now or workshop.cancelled_at is not None:
        await seats.release_seat(uow, WorkshopRow, workshop.id)
        return None
    first.status = BookingStatus.OFFERED
    first.offer_expires_at = until
    await uow.session.flush()
    await record_event(uow, "booking.offered", subject_type="booking", subject_id=first.id)
    await notify.offered(uow, first.id, until)
    return first.id


async def _end(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    row: BookingRow,
    reason: str,
    now: datetime,
    actor_person_id: int | None,
) -> int | None:
    """Cancel a live booking; its seat goes on. Returns the booking offered the seat."""
    workshop = await seats.lock(uow, WorkshopRow, row.workshop_id)
    await uow.session.refresh(row)
    if row.status not in LIVE:
        return None
    held = row.status in HOLDS_SEAT
    row.status = BookingStatus.CANCELLED
    row.reason = reason
    row.offer_expires_at = None
    await uow.session.flush()
    await record_event(
        uow,
        "booking.cancelled",
        actor_person_id=actor_person_id,
        subject_type="booking",
        subject_id=row.id,
        reason=reason,
    )
    return await pass_seat(uow, notify, workshop, now) if held else None


async def cancel_booking(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    person_id: int,
    booking_id: int,
    now: datetime | None = None,
) -> int | None:
    """Cancel one of the person's bookings; return the booking now offered its seat, if any.

    Raises:
        NotFound: not the person's booking.
    """
    row = await _own_booking(uow, person_id, booking_id)
    return await _end(uow, notify, row, "", now or utcnow(), person_id)


async def answer_offer(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    person_id: int,
    booking_id: int,
    *,
    accept: bool,
    now: datetime | None = None,
) -> tuple[Booking, int | None]:
    """Take or pass on an offered seat; with a pass, also the booking offered it next.

    Raises:
        NotFound: not the person's booking.
        ConflictError: "expired" when the offer lapsed or was answered already.
    """
    now = now or utcnow()
    row = await _own_booking(uow, person_id, booking_id)
    await seats.lock(uow, WorkshopRow, row.workshop_id)
    await uow.session.refresh(row)
    if (
        row.status != BookingStatus.OFFERED
        or row.offer_expires_at is None
        or row.offer_expires_at <= now
    ):
        raise ConflictError("expired")
    if not accept:
        offered = await _end(uow, notify, row, OFFER_DECLINED, now, person_id)
        return await _booking(uow, row), offered
    row.status = BookingStatus.CONFIRMED
    row.offer_expires_at = None
    await uow.session.flush()
    await record_event(
        uow,
        "booking.offer_accepted",
        actor_person_id=person_id,
        subject_type="booking",
        subject_id=row.id,
    )
    return await _booking(uow, row), None


async def expire_offers(
    uow: UnitOfWork, notify: WorkshopNotifier, now: datetime | None = None, limit: int = 100
) -> list[tuple[int, int | None]]:
    """End offers whose time is up: (lapsed booking, booking offered the seat next) pairs."""
    now = now or utcnow()
    rows = list(
        await uow.session.scalars(
            select(BookingRow)
            .where(BookingRow.status == BookingStatus.OFFERED, BookingRow.offer_expires_at <= now)
            .order_by(BookingRow.offer_expires_at, BookingRow.id)
            .limit(limit)
        )
    )
    ended = []
    for row in rows:
        await seats.lock(uow, WorkshopRow, row.workshop_id)
        await uow.session.refresh(row)
        # Another worker, or the person's answer, may have got there first.
        if row.status != BookingStatus.OFFERED or (
            row.offer_expires_at is not None and row.offer_expires_at > now
        ):
            continue
        ended.append((row.id, await _end(uow, notify, row, OFFER_EXPIRED, now, None)))
        await notify.offer_expired(uow, row.id)
    return ended


async def cancel_workshop(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    actor_person_id: int | None,
    workshop_id: int,
    now: datetime | None = None,
) -> list[int]:
    """Cancel a workshop and every live booking; everyone booked is told. Returns who.

    Raises:
        NotFound: no such workshop.
        Forbidden: the acting person does not run its factory.
        ConflictError: "cancelled" already.
    """
    now = now or utcnow()
    workshop = await seats.lock(uow, WorkshopRow, workshop_id)
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, workshop.factory_id)
    if workshop.cancelled_at is not None:
        raise ConflictError("cancelled")
    workshop.cancelled_at = now
    rows = list(
        await uow.session.scalars(
            select(BookingRow).where(
                BookingRow.workshop_id == workshop_id, BookingRow.status.in_(LIVE)
            )
        )
    )
    for row in rows:
        row.status = BookingStatus.CANCELLED
        row.reason = WORKSHOP_CANCELLED
        row.offer_expires_at = None
    await drop_pushes(uow, reminder_kinds(notify.rules), workshop_id)
    workshop.seats_taken = 0
    await uow.session.flush()
    await record_event(
        uow,
        "workshop.cancelled",
        actor_person_id=actor_person_id,
        subject_type="workshop",
        subject_id=workshop_id,
        bookings=len(rows),
    )
    for row in rows:
        await notify.cancelled(uow, row.id)
    return sorted({row.person_id for row in rows})


async def my_bookings(
    uow: UnitOfWork, person_id: int, now: datetime | None = None
) -> list[Booking]:
    """The person's bookings of workshops that have not ended, soonest first.

    Cancelled ones (by the person, the workshop called off, an offer passed on or lapsed)
    are listed too, with their reason, unless the person booked that workshop again.
    """
    values = {"person_id": person_id, "now": now or utcnow()}
    rows = (await uow.session.execute(_MINE, values)).all()
    zones = uow.session.info.setdefault(_ZONES, {})
    for _booking_row, workshop, zone in rows:
        zones[workshop.factory_id] = zone or "Asia/Shanghai"
    found = await _listed(uow, [(booking, workshop) for booking, workshop, _zone in rows])
    return sorted(found, key=_mine_order)


async def _listed(uow: UnitOfWork, rows: list[tuple[BookingRow, WorkshopRow]]) -> list[Booking]:
    """The bookings as the person's list shows them, each with its workshop."""
    found = []
    for booking, workshop in rows:
        record = await _booking(uow, booking)
        zone = await _timezone(uow, workshop.factory_id)
        found.append(replace(record, workshop=_workshop(workshop, zone)))
    return found


async def bookings_of(
    uow: UnitOfWork, actor_person_id: int | None, workshop_id: int
) -> list[Booking]:
    """A workshop's live bookings (seats first, then the queue in order), with names.

    Raises:
        NotFound: no such workshop.
        Forbidden: the acting person does not run its factory.
    """
    workshop = await uow.session.get(WorkshopRow, workshop_id)
    if workshop is None:
        raise NotFound(f"workshop {workshop_id}")
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, workshop.factory_id)
    rows = (
        await uow.session.execute(
            select(BookingRow, PersonRow.display_name)
            .join(PersonRow, PersonRow.id == BookingRow.person_id)
            .where(BookingRow.workshop_id == workshop_id, BookingRow.status.in_(LIVE))
            .order_by(BookingRow.status != BookingStatus.CONFIRMED, BookingRow.id)
        )
    ).all()
    found = []
    for row, name in rows:
        record = await _booking(uow, row)
        found.append(replace(record, person_name=name or ""))
    return found


async def check_in_by_code(
    uow: UnitOfWork, actor_person_id: int, workshop_id: int, code: str, now: datetime | None = None
) -> tuple[Booking, bool]:
    """Check in the booking whose code a worker shows; False if they were in already.

    Raises:
        NotFound: "code" for a code no booking they may see has; or no such workshop.
        Forbidden: the acting person does not run its factory.
        InvalidInput: "other_workshop" for a code of another workshop's booking, at a
            factory they run; "not_now" outside check-in (`check_in_open`).
        ConflictError: the booking holds no seat (waiting or cancelled).
    """
    workshop = await uow.session.get(WorkshopRow, workshop_id)
    if workshop is None:
        raise NotFound(f"workshop {workshop_id}")
    await require_factory(uow, actor_person_id, workshop.factory_id)
    cleaned = "".join(code.split()).upper()
    row = await uow.session.scalar(select(BookingRow).where(BookingRow.code == cleaned))
    if row is None:
        raise NotFound("code")
    if row.workshop_id != workshop_id:
        other = await uow.session.get(WorkshopRow, row.workshop_id)
        try:
            if other is None:
                raise Forbidden("gone")
            await require_factory(uow, actor_person_id, other.factory_id)
        except Forbidden:
            # Another factory's booking: as far as this coordinator knows, no such code.
            raise NotFound("code") from None
        raise InvalidInput("other_workshop")
    return await _check_in(uow, row, workshop, actor_person_id, now or utcnow())


def check_in_open(workshop: WorkshopRow, now: datetime) -> None:
    """Refuse a check-in before an hour ahead of the start (CHECK_IN_OPENS) or after the end.

    Raises:
        InvalidInput: "not_now".
    """
    if not workshop.starts_at - CHECK_IN_OPENS <= now <= workshop.ends_at:
        raise InvalidInput("not_now")


async def check_in_at_door(
    uow: UnitOfWork, person_id: int, code: str, now: datetime | None = None
) -> tuple[Booking, bool]:
    """Check in a worker who sends the door code posted at the workshop, or their booking code.

    Raises:
        NotFound: no workshop has that door code and no booking of the person that code.
        InvalidInput: "not_now" outside check-in (`check_in_open`).
        ConflictError: "no_booking" when the person has no seat there.
    """
    now = now or utcnow()
    cleaned = "".join(code.split()).upper()
    workshop = await uow.session.scalar(
        select(WorkshopRow).where(WorkshopRow.door_code == cleaned)
    )
    if workshop is None:
        # Their own booking code opens the door as well; someone else's is no code at all,
        # so a worker never learns whose it is, or checks in anyone but themselves.
        workshop = await uow.session.scalar(
            select(WorkshopRow)
            .join(BookingRow, BookingRow.workshop_id == WorkshopRow.id)
            .where(BookingRow.code == cleaned, BookingRow.person_id == person_id)
        )
    if workshop is None or workshop.cancelled_at is not None:
        raise NotFound("code")
    check_in_open(workshop, now)
    row = await uow.session.scalar(
        select(BookingRow).where(
            BookingRow.workshop_id == workshop.id,
            BookingRow.person_id == person_id,
            BookingRow.status.in_(LIVE),
        )
    )
    if row is None:
        raise ConflictError("no_booking")
    return await _check_in(uow, row, workshop, person_id, now)


async def _check_in(
    uow: UnitOfWork, row: BookingRow, workshop: WorkshopRow, actor_person_id: int, now: datetime
) -> tuple[Booking, bool]:
    if row.status != BookingStatus.CONFIRMED:
        raise ConflictError(row.status)
    changed = row.checked_in_at is None
    if changed:
        check_in_open(workshop, now)
        row.checked_in_at = now
        await uow.session.flush()
        await record_event(
            uow,
            "booking.checked_in",
            actor_person_id=actor_person_id,
            subject_type="booking",
            subject_id=row.id,
        )
    return await _booking(uow, row), changed


async def _attended(uow: UnitOfWork, person_id: int, booking_id: int) -> BookingRow:
    row = await _own_booking(uow, person_id, booking_id)
    if row.checked_in_at is None:
        raise InvalidInput("not_attended")
    return row


async def rate(uow: UnitOfWork, person_id: int, booking_id: int, rating: int) -> bool:
    """Store how useful a workshop the person attended was, 1 to 5; False if rated already.

    Raises:
        NotFound: not the person's booking.
        InvalidInput: "rating" outside 1 to 5, or "not_attended".
    """
    await _attended(uow, person_id, booking_id)
    if not 1 <= rating <= 5:
        raise InvalidInput("rating")
    if await uow.session.get(FeedbackRow, booking_id) is not None:
        return False
    uow.session.add(FeedbackRow(booking_id=booking_id, rating=rating, comment=""))
    await uow.session.flush()
    return True


async def add_comment(uow: UnitOfWork, person_id: int, booking_id: int, comment: str) -> None:
    """Add the person's words to their rating.

    Raises:
        NotFound: not the person's booking, or not rated yet.
        InvalidInput: "comment" empty or too long.
    """
    await _attended(uow, person_id, booking_id)
    found = await uow.session.get(FeedbackRow, booking_id)
    if found is None:
        raise NotFound(f"feedback {booking_id}")
    found.comment = _clean(comment, MAX_COMMENT, "comment", required=True)
    await uow.session.flush()


async def fire_push(
    uow: UnitOfWork, notify: WorkshopNotifier, push: DuePush, now: datetime | None = None
) -> int:
    """Queue a due reminder or feedback question for everyone it still concerns; return how many.

    A reminder goes to every seat held then, before the start; the feedback question to
    everyone checked in. Whoever was forgotten in the meantime is not asked.
    """
    now = now or utcnow()
    workshop = await uow.session.get(WorkshopRow, push.subject_id)
    if workshop is None or workshop.cancelled_at is not None:
        return 0
    if push.kind != FEEDBACK and workshop.starts_at <= now:
        return 0
    query = (
        select(BookingRow.id)
        .join(PersonRow, PersonRow.id == BookingRow.person_id)
        .where(
            BookingRow.workshop_id == workshop.id,
            BookingRow.status == BookingStatus.CONFIRMED,
            PersonRow.erased_at.is_(None),
        )
        .order_by(BookingRow.id)
    )
    if push.kind == FEEDBACK:
        query = query.where(BookingRow.checked_in_at.is_not(None))
    queued = 0
    for booking_id in list(await uow.session.scalars(query)):
        if push.kind == FEEDBACK:
            queued += await notify.feedback(uow, booking_id)
        else:
            queued += await notify.reminder(uow, booking_id, push.kind)
    return queued


async def workshops_for_staff(
    uow: UnitOfWork, actor_person_id: int, now: datetime | None = None, days_back: int = 30
) -> list[Workshop]:
    """Workshops at the factories the person runs, from `days_back` days ago on, soonest first."""
    scope = await staff_scope(uow, actor_person_id)
    if not scope.is_staff:
        return []
    since = (now or utcnow()) - timedelta(days=days_back)
    query = (
        select(WorkshopRow, FactoryRow.timezone)
        .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
        .where(WorkshopRow.ends_at >= since)
        .order_by(WorkshopRow.starts_at, WorkshopRow.id)
    )
    if not scope.every_factory:
        query = query.where(WorkshopRow.factory_id.in_(scope.factory_ids))
    return [_workshop(row, zone) for row, zone in await uow.session.execute(query)]


def split_at_today(
    found: list[Workshop], now: datetime | None = None
) -> tuple[list[Workshop], list[Workshop]]:
    """The workshops on today or a later day at their factory, and the earlier ones, in order."""
    now = now or utcnow()
    coming: list[Workshop] = []
    past: list[Workshop] = []
    for workshop in found:
        zone = ZoneInfo(workshop.timezone)
        # A workshop this morning is still today's: staff write to it, check in, export.
        today = workshop.starts_at.astimezone(zone).date() >= now.astimezone(zone).date()
        (coming if today else past).append(workshop)
    return coming, past


async def workshop_for_staff(uow: UnitOfWork, actor_person_id: int, workshop_id: int) -> Workshop:
    """One workshop the person runs.

    Raises:
        NotFound: no such workshop.
        Forbidden: not one of the person's factories.
    """
    workshop = await get_workshop(uow, workshop_id)
    await require_factory(uow, actor_person_id, workshop.factory_id)
    return workshop


@dataclass(frozen=True, slots=True)
class WorkshopChanges:
    """Fields of a workshop to change; None leaves a field as it is."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    topic: str | None = None
    language: str | None = None
    capacity: int | None = None
    place: Bilingual | None = None
    trainer: str | None = None


async def update_workshop(
    uow: UnitOfWork,
    notify: WorkshopNotifier,
    actor_person_id: int,
    workshop_id: int,
    changes: WorkshopChanges,
    now: datetime | None = None,
) -> Workshop:
    """Change a planned workshop; new times move reminders and tell everyone booked.

    More seats go to the queue as offers.

    Raises:
        NotFound: no such workshop.
        Forbidden: the acting person does not run its factory.
        ConflictError: "cancelled" or "started".
        InvalidInput: "times", "topic", "language", "capacity" (below the seats held),
            "place" or "trainer".
    """
    now = now or utcnow()
    row = await seats.lock(uow, WorkshopRow, workshop_id)
    await require_factory(uow, actor_person_id, row.factory_id)
    if row.cancelled_at is not None:
        raise ConflictError("cancelled")
    if row.starts_at <= now:
        raise ConflictError("started")
    starts_at = changes.starts_at or row.starts_at
    ends_at = changes.ends_at or row.ends_at
    if not now < starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise InvalidInput("times")
    if changes.language is not None and changes.language not in LANGUAGES:
        raise InvalidInput("language")
    capacity = row.capacity if changes.capacity is None else changes.capacity
    if not max(row.seats_taken, 1) <= capacity <= MAX_CAPACITY:
        raise InvalidInput("capacity")
    moved = (starts_at, ends_at) != (row.starts_at, row.ends_at)
    row.starts_at, row.ends_at = starts_at, ends_at
    if changes.topic is not None:
        row.topic = _clean(changes.topic, MAX_TOPIC, "topic", required=True)
    if changes.language is not None:
        row.language = changes.language
    if changes.place is not None:
        place = _place(changes.place)
        row.place, row.place_en = place.zh, place.en
    if changes.trainer is not None:
        row.trainer = _clean(changes.trainer, MAX_TRAINER, "trainer")
    added = capacity - row.capacity
    row.capacity = capacity
    await uow.session.flush()
    await record_event(
        uow,
        "workshop.changed",
        actor_person_id=actor_person_id,
        subject_type="workshop",
        subject_id=row.id,
        moved=moved,
    )
    workshop = _workshop(row, await _timezone(uow, row.factory_id))
    if moved:
        await drop_pushes(uow, reminder_kinds(notify.rules), row.id)
        await schedule_reminders(uow, notify.rules, workshop, now)
        booked = list(
            await uow.session.scalars(
                select(BookingRow).where(
                    BookingRow.workshop_id == row.id, BookingRow.status.in_(LIVE)
                )
            )
        )
        stamp = int(starts_at.timestamp())
        for booking in booked:
            await notify.moved(uow, booking.id, stamp)
    for _ in range(max(added, 0)):
        # Each new seat is taken, then handed on as an offer (or given back if none wait).
        row.seats_taken += 1
        await uow.session.flush()
        if await pass_seat(uow, notify, row, now) is None:
            break
    await uow.session.refresh(row)
    return _workshop(row, workshop.timezone)
