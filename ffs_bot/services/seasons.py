"""Family-Friendly Space seasons and registrations: a seat is taken by one conditional UPDATE.

Never "count, then insert": `UPDATE season SET seats_taken = seats_taken + 1 WHERE id = ? AND
seats_taken < capacity` either takes a seat or does not, whatever runs at the same time; a
check constraint and a unique index on live registrations back it up. Registrations for one
season are serialized on its row, so those who find no seat are waitlisted in commit order and
told their exact place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select, text, true
from sqlalchemy.orm import aliased

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import (
    LIVE_REGISTRATION,
    ChildRow,
    FactoryRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.model import NO_TEXT, Bilingual, Child
from ffs_bot.notices import FamilyNotifier
from ffs_bot.services import seats
from ffs_bot.services.audit import record_event
from ffs_bot.services.children import ONE_CHILD, get_child, to_child
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.seats import release_seat, take_seat
from ffs_bot.services.staff import require_factory

__all__ = [
    "FamilyRegistration",
    "Funding",
    "HeldSeason",
    "Registration",
    "RegistrationStatus",
    "Season",
    "answer_offer",
    "cancel_registration",
    "change_registration_days",
    "check_can_register",
    "create_season",
    "end_for_erasure",
    "expire_offers",
    "family_order",
    "get_season",
    "hold_season",
    "list_family_registrations",
    "lock_season",
    "offer_expiry",
    "open_seasons",
    "pass_seat",
    "register_child",
    "season_weeks",
    "to_season",
]

MAX_CHILD_AGE = 17
MAX_PLACE = 200


def _add_registration(dialect: str) -> Any:
    # One statement for "not registered yet?" and the insert: a live registration of the
    # child (the unique index on them) makes it insert nothing and return no id.
    table = table_of(RegistrationRow)
    return (
        insert_for(dialect)(table)
        .on_conflict_do_nothing(
            index_elements=[table.c.season_id, table.c.child_id],
            index_where=text(LIVE_REGISTRATION),
        )
        .returning(table.c.id)
    )


_ADD_REGISTRATION = {dialect: _add_registration(dialect) for dialect in ("sqlite", "postgresql")}


class RegistrationStatus(StrEnum):
    """Where a registration stands."""

    REQUESTED = "requested"  # holds a seat until the coordinator confirms or declines
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"  # a freed seat held for a waitlisted child until the offer expires
    CANCELLED = "cancelled"  # by the family, or an offer declined or left to expire
    DECLINED = "declined"  # by the coordinator, with a reason


HOLDS_SEAT = (
    RegistrationStatus.REQUESTED.value,
    RegistrationStatus.CONFIRMED.value,
    RegistrationStatus.OFFERED.value,
)
ENDED = (RegistrationStatus.CANCELLED.value, RegistrationStatus.DECLINED.value)
# Why a registration ended without the family cancelling it.
OFFER_DECLINED = "offer_declined"
OFFER_EXPIRED = "offer_expired"


class Funding(StrEnum):
    """Who pays for a season."""

    SELF = "self"
    SPONSOR = "sponsor"


@dataclass(frozen=True, slots=True)
class Season:
    """A season as families and staff see it."""

    id: int
    factory_id: int
    starts_on: date
    ends_on: date
    min_age_years: int
    max_age_years: int
    capacity: int
    seats_taken: int
    registration_deadline: date
    auto_confirm: bool
    funding: Funding
    registration_open: bool
    place: Bilingual = NO_TEXT

    @property
    def seats_left(self) -> int:
        """Seats not yet held."""
        return self.capacity - self.seats_taken


@dataclass(frozen=True, slots=True)
class Registration:
    """A child's registration, with its place in the queue when waitlisted."""

    id: int
    season_id: int
    child_id: int
    status: RegistrationStatus
    starts_on: date
    ends_on: date
    queue_position: int | None
    offer_expires_at: datetime | None = None
    reason: str = ""


def clean_place(place: Bilingual, problem: str = "place") -> Bilingual:
    """How to get there with its spaces collapsed, each language checked for length.

    Raises:
        InvalidInput: `problem` when either text is longer than MAX_PLACE.
    """
    cleaned = Bilingual(" ".join(place.zh.split()), " ".join(place.en.split()))
    if max(len(cleaned.zh), len(cleaned.en)) > MAX_PLACE:
        raise InvalidInput(problem)
    return cleaned


def to_season(row: SeasonRow) -> Season:
    """The record staff and families see for a season row."""
    return Season(
        id=row.id,
        factory_id=row.factory_id,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        min_age_years=row.min_age_years,
        max_age_years=row.max_age_years,
        capacity=row.capacity,
        seats_taken=row.seats_taken,
        registration_deadline=row.registration_deadline,
        auto_confirm=row.auto_confirm,
        funding=Funding(row.funding),
        registration_open=row.registration_open,
        place=Bilingual(row.place, row.place_en),
    )


async def create_season(
    uow: UnitOfWork,
    *,
    factory_code: str,
    starts_on: date,
    ends_on: date,
    min_age_years: int,
    max_age_years: int,
    capacity: int,
    registration_deadline: date,
    auto_confirm: bool = True,
    funding: Funding = Funding.SELF,
    place: Bilingual = NO_TEXT,
    actor_person_id: int | None = None,
) -> Season:
    """Open a season at a factory; an acting person must run that factory.

    Raises:
        NotFound: no such factory.
        Forbidden: the acting person does not run the factory.
        InvalidInput: dates, ages or capacity that cannot be.
    """
    factory_id = await uow.session.scalar(
        select(FactoryRow.id).where(FactoryRow.code == normalise_code(factory_code))
    )
    if factory_id is None:
        raise NotFound(f"factory {factory_code}")
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, factory_id)
    place = clean_place(place, f"the place must be at most {MAX_PLACE} characters")
    if ends_on < starts_on:
        raise InvalidInput("the season ends before it starts")
    if not 0 <= min_age_years <= max_age_years <= MAX_CHILD_AGE:
        raise InvalidInput(f"ages must be 0 to {MAX_CHILD_AGE}, youngest first")
    if capacity < 1:
        raise InvalidInput("capacity must be at least 1")
    if registration_deadline > ends_on:
        raise InvalidInput("registration must close before the season ends")
    row = SeasonRow(
        factory_id=factory_id,
        starts_on=starts_on,
        ends_on=ends_on,
        min_age_years=min_age_years,
        max_age_years=max_age_years,
        capacity=capacity,
        seats_taken=0,
        registration_deadline=registration_deadline,
        auto_confirm=auto_confirm,
        funding=funding.value,
        registration_open=True,
        place=place.zh,
        place_en=place.en,
    )
    uow.session.add(row)
    await uow.session.flush()
    await record_event(
        uow,
        "season.opened",
        actor_person_id=actor_person_id,
        subject_type="season",
        subject_id=row.id,
        factory_id=factory_id,
        capacity=capacity,
    )
    return to_season(row)


async def _queue_position(uow: UnitOfWork, row: RegistrationRow) -> int | None:
    if row.status != RegistrationStatus.WAITLISTED.value:
        return None
    return await _waiting_ahead(uow, row.season_id, row.id)


async def _waiting_ahead(uow: UnitOfWork, season_id: int, registration_id: int) -> int:
    """The place in the season's queue of a waitlisted registration (1 is next)."""
    ahead = await uow.session.scalar(
        select(func.count())
        .select_from(RegistrationRow)
        .where(
            RegistrationRow.season_id == season_id,
            RegistrationRow.status == RegistrationStatus.WAITLISTED.value,
            RegistrationRow.id <= registration_id,
        )
    )
    return int(ahead or 0)


async def _registration(uow: UnitOfWork, row: RegistrationRow) -> Registration:
    return Registration(
        id=row.id,
        season_id=row.season_id,
        child_id=row.child_id,
        status=RegistrationStatus(row.status),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        queue_position=await _queue_position(uow, row),
        offer_expires_at=row.offer_expires_at,
        reason=row.reason,
    )


async def register_child(
    uow: UnitOfWork,
    *,
    person_id: int,
    child: Child,
    season: Season,
    starts_on: date,
    ends_on: date,
    today: date,
) -> Registration:
    """Register one of the person's children for the days given; seat or waitlist.

    `child` is the person's and `season` is held, both as `hold_season` read them in this unit
    of work: they are used as they are, not read again.

    Raises:
        InvalidInput: "closed" (registration is over), "age" (the child's age at the start
            is outside the season's), or "dates" (outside the season or backwards).
        ConflictError: the child is registered for this season already.
    """
    check_can_register(season, child, today)
    _check_days(season, starts_on, ends_on)
    seated = await take_seat(uow, SeasonRow, season.id)
    if seated:
        status = (
            RegistrationStatus.CONFIRMED if season.auto_confirm else RegistrationStatus.REQUESTED
        )
    else:
        status = RegistrationStatus.WAITLISTED
    registration_id = await uow.session.scalar(
        _ADD_REGISTRATION[uow.dialect],
        {
            "season_id": season.id,
            "child_id": child.id,
            "registered_by": person_id,
            "status": status.value,
            "starts_on": starts_on,
            "ends_on": ends_on,
        },
    )
    if registration_id is None:
        # A live registration of the child is there already (the other guardian's, perhaps
        # made at the same moment). The caller may still commit (to say so), so the seat
        # taken above goes back.
        if seated:
            await release_seat(uow, SeasonRow, season.id)
        raise ConflictError("already")
    await record_event(
        uow,
        "registration.created",
        actor_person_id=person_id,
        subject_type="registration",
        subject_id=registration_id,
        status=status.value,
    )
    return Registration(
        id=registration_id,
        season_id=season.id,
        child_id=child.id,
        status=status,
        starts_on=starts_on,
        ends_on=ends_on,
        queue_position=(
            await _waiting_ahead(uow, season.id, registration_id)
            if status is RegistrationStatus.WAITLISTED
            else None
        ),
    )


def check_can_register(season: Season, child: Child, today: date) -> None:
    """Say before any days are asked whether the child may be registered for the season.

    Raises:
        InvalidInput: "closed" (registration is over) or "age" (the child's age when the
            season starts is outside the season's ages).
    """
    if not season.registration_open or today > season.registration_deadline:
        raise InvalidInput("closed")
    age = child.age_in_months(season.starts_on.year, season.starts_on.month) // 12
    if not season.min_age_years <= age <= season.max_age_years:
        raise InvalidInput("age")


def _check_days(season: Season, starts_on: date, ends_on: date) -> None:
    if starts_on > ends_on or starts_on < season.starts_on or ends_on > season.ends_on:
        raise InvalidInput("dates")


async def change_registration_days(
    uow: UnitOfWork,
    *,
    person_id: int,
    registration_id: int,
    starts_on: date,
    ends_on: date,
    today: date,
) -> Registration:
    """Move a live registration of one of the person's children to other days of its season.

    The place (or the place in the queue) stays as it is: it is held for the season, not
    for days.

    Raises:
        NotFound: no such registration, or not one of the person's children's.
        ConflictError: the registration has ended.
        InvalidInput: "closed" (registration is over) or "dates" (outside the season or
            backwards).
    """
    row = await _family_row(uow, person_id, registration_id)
    season = to_season(await lock_season(uow, row.season_id))
    await uow.session.refresh(row)
    if row.status in ENDED:
        raise ConflictError("ended")
    if not season.registration_open or today > season.registration_deadline:
        raise InvalidInput("closed")
    _check_days(season, starts_on, ends_on)
    row.starts_on, row.ends_on = starts_on, ends_on
    await uow.session.flush()
    await record_event(
        uow,
        "registration.days_changed",
        actor_person_id=person_id,
        subject_type="registration",
        subject_id=row.id,
    )
    return await _registration(uow, row)


@dataclass(frozen=True, slots=True)
class HeldSeason:
    """A season held to register a child for it, with what registering and its answer need."""

    season: Season
    # The person's child chosen; None when there is no such child of theirs.
    child: Child | None
    # The person's children's registrations as their list shows them, in `family_order`.
    family: list[FamilyRegistration]

    def registration_of_child(self) -> Registration | None:
        """The live registration for this season of the child held, if there is one."""
        if self.child is None:
            return None
        return next(
            (
                found.registration
                for found in self.family
                if found.registration.child_id == self.child.id
                and found.registration.season_id == self.season.id
                # A cancelled or declined one stays listed, but the child may register again.
                and found.registration.status not in ENDED
            ),
            None,
        )

    def with_registration(self, registration: Registration) -> list[FamilyRegistration]:
        """The family's list once `registration`, of the child held, is made."""
        assert self.child is not None
        made = FamilyRegistration(registration, self.child.name)
        # The new one takes the place of an ended one of the child for the same season.
        kept = [
            f
            for f in self.family
            if (f.registration.child_id, f.registration.season_id)
            != (registration.child_id, registration.season_id)
        ]
        return sorted([*kept, made], key=family_order)


_LATER = aliased(RegistrationRow)
# The registrations of the person's children (parameters person_id and today), with their
# names, as the family's list shows them: the live ones, and those that ended (declined,
# cancelled, an offer lapsed) until their last day is over, so the family still reads why;
# not one the child was registered again after, for the same season.
_FAMILY = (
    select(RegistrationRow, ChildRow.name.label("child_name"))
    .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
    .join(GuardianRow, GuardianRow.child_id == ChildRow.id)
    .where(
        GuardianRow.person_id == bindparam("person_id"),
        ChildRow.erased_at.is_(None),
        or_(
            RegistrationRow.status.not_in(ENDED),
            and_(
                RegistrationRow.ends_on >= bindparam("today"),
                ~exists().where(
                    _LATER.child_id == RegistrationRow.child_id,
                    _LATER.season_id == RegistrationRow.season_id,
                    _LATER.id > RegistrationRow.id,
                ),
            ),
        ),
    )
)


def _hold_statement() -> Any:
    # The season, the child and the family's registrations in one statement: on PostgreSQL
    # only the season's row is locked, as `lock_season` locks it.
    chosen = ONE_CHILD.order_by(None).subquery("chosen")
    family = _FAMILY.subquery("family")
    return (
        select(SeasonRow, *chosen.c, aliased(RegistrationRow, family), family.c.child_name)
        .select_from(SeasonRow)
        # Families register for their own factory's seasons only: another's is not found.
        .join(
            PersonRow,
            (PersonRow.id == bindparam("person_id"))
            & (PersonRow.factory_id == SeasonRow.factory_id),
        )
        .outerjoin(chosen, true())
        .outerjoin(family, true())
        .where(SeasonRow.id == bindparam("season_id"))
    )


_HOLD = _hold_statement()
_HOLD_LOCKED = _HOLD.with_for_update(of=SeasonRow)


async def hold_season(
    uow: UnitOfWork, season_id: int, *, person_id: int, child_id: int, today: date
) -> HeldSeason:
    """Hold a season to register the person's child (`register_child`), with what that needs.

    The season is held as `lock_season` holds it; the child and the family's registrations
    (as `list_family_registrations` lists them on `today`) are read in the same statement.

    Raises:
        NotFound: no such season, or one at another factory than the person's.
    """
    rows = (
        await uow.session.execute(
            _HOLD_LOCKED if uow.dialect == "postgresql" else _HOLD,
            {
                "season_id": season_id,
                "person_id": person_id,
                "child_id": child_id,
                "today": today,
            },
        )
    ).all()
    if not rows:
        raise NotFound(f"season {season_id}")
    first = rows[0]
    child = None if first[1] is None else to_child(first[1 : 1 + len(ONE_CHILD.selected_columns)])
    family = [
        FamilyRegistration(await _registration(uow, row[-2]), row[-1])
        for row in rows
        if row[-2] is not None
    ]
    return HeldSeason(to_season(first[0]), child, sorted(family, key=family_order))


async def lock_season(uow: UnitOfWork, season_id: int) -> SeasonRow:
    """Read a season to change its seats or queue.

    Seat changes for one season go one at a time (SQLite's write lock does the same on its
    own), so the queue's order is the order of commits and each place we tell is exact.

    Raises:
        NotFound: no such season.
    """
    return await seats.lock(uow, SeasonRow, season_id)


async def _factory_timezone(uow: UnitOfWork, factory_id: int) -> str:
    zone = await uow.session.scalar(select(FactoryRow.timezone).where(FactoryRow.id == factory_id))
    return zone or "Asia/Shanghai"


async def offer_expiry(
    uow: UnitOfWork, season: SeasonRow, window: timedelta, now: datetime
) -> datetime:
    """When an offer made now lapses: after the window, and never after the season's last day."""
    zone = ZoneInfo(await _factory_timezone(uow, season.factory_id))
    last_moment = datetime.combine(season.ends_on, time(23, 59), zone)
    return min(now + window, last_moment)


async def pass_seat(
    uow: UnitOfWork, notify: FamilyNotifier, season: SeasonRow, now: datetime
) -> int | None:
    """Give a freed seat to the first child waiting, as an offer; else free it.

    The caller holds the season (`lock_season`). Returns the registration offered the seat.
    """
    first = await uow.session.scalar(
        select(RegistrationRow)
        .where(
            RegistrationRow.season_id == season.id,
            RegistrationRow.status == RegistrationStatus.WAITLISTED.value,
        )
        .order_by(RegistrationRow.id)
        .limit(1)
    )
    if first is None or now.date() > season.ends_on:
        await release_seat(uow, SeasonRow, season.id)
        return None
    # The seat stays taken: it moves from the one who left to the one offered it.
    until = await offer_expiry(uow, season, notify.offer_window, now)
    first.status = RegistrationStatus.OFFERED.value
    first.offer_expires_at = until
    await uow.session.flush()
    await record_event(
        uow, "registration.offered", subject_type="registration", subject_id=first.id
    )
    await notify.offered(uow, first.id, until)
    return first.id


async def _end(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    row: RegistrationRow,
    status: RegistrationStatus,
    *,
    actor_person_id: int | None,
    reason: str = "",
    now: datetime,
) -> bool:
    """End a live registration (False if it had ended); a seat it held goes to the next child."""
    season = await lock_season(uow, row.season_id)
    await uow.session.refresh(row)
    if row.status in ENDED:
        return False
    held = row.status in HOLDS_SEAT
    row.status = status.value
    row.reason = reason
    row.offer_expires_at = None
    row.decided_by = actor_person_id
    row.decided_at = now
    await uow.session.flush()
    await record_event(
        uow,
        f"registration.{status.value}",
        actor_person_id=actor_person_id,
        subject_type="registration",
        subject_id=row.id,
        reason=reason if reason in (OFFER_DECLINED, OFFER_EXPIRED) else "",
    )
    if held:
        await pass_seat(uow, notify, season, now)
    return True


async def _family_row(uow: UnitOfWork, person_id: int, registration_id: int) -> RegistrationRow:
    row = await uow.session.get(RegistrationRow, registration_id)
    if row is None:
        raise NotFound(f"registration {registration_id}")
    await get_child(uow, person_id, row.child_id)
    return row


async def cancel_registration(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    person_id: int,
    registration_id: int,
    now: datetime | None = None,
) -> Registration:
    """Cancel a registration of one of the person's children; its seat goes on.

    Raises:
        NotFound: no such registration, or not one of the person's children's.
    """
    row = await _family_row(uow, person_id, registration_id)
    await _end(
        uow,
        notify,
        row,
        RegistrationStatus.CANCELLED,
        actor_person_id=person_id,
        now=now or utcnow(),
    )
    return await _registration(uow, row)


async def end_for_erasure(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    registration_id: int,
    *,
    actor_person_id: int | None,
    now: datetime,
) -> bool:
    """Cancel a live registration whose child's data is being erased; its seat goes on."""
    row = await uow.session.get(RegistrationRow, registration_id)
    if row is None:
        return False
    return await _end(
        uow, notify, row, RegistrationStatus.CANCELLED, actor_person_id=actor_person_id, now=now
    )


async def answer_offer(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    person_id: int,
    registration_id: int,
    *,
    accept: bool,
    now: datetime | None = None,
) -> Registration:
    """Take or pass on a place offered to one of the person's children.

    Raises:
        NotFound: no such registration, or not one of the person's children's.
        ConflictError: "expired" when the offer ran out or was answered already.
    """
    now = now or utcnow()
    row = await _family_row(uow, person_id, registration_id)
    season = await lock_season(uow, row.season_id)
    await uow.session.refresh(row)
    if (
        row.status != RegistrationStatus.OFFERED.value
        or row.offer_expires_at is None
        or row.offer_expires_at <= now
    ):
        raise ConflictError("expired")
    if not accept:
        await _end(
            uow,
            notify,
            row,
            RegistrationStatus.CANCELLED,
            actor_person_id=person_id,
            reason=OFFER_DECLINED,
            now=now,
        )
        return await _registration(uow, row)
    status = RegistrationStatus.CONFIRMED if season.auto_confirm else RegistrationStatus.REQUESTED
    row.status = status.value
    row.offer_expires_at = None
    await uow.session.flush()
    await record_event(
        uow,
        "registration.offer_accepted",
        actor_person_id=person_id,
        subject_type="registration",
        subject_id=row.id,
        status=status.value,
    )
    return await _registration(uow, row)


async def expire_offers(
    uow: UnitOfWork, notify: FamilyNotifier, now: datetime | None = None, limit: int = 100
) -> int:
    """End offers nobody answered in time and pass their seats on; return how many ended."""
    now = now or utcnow()
    rows = list(
        await uow.session.scalars(
            select(RegistrationRow)
            .where(
                RegistrationRow.status == RegistrationStatus.OFFERED.value,
                RegistrationRow.offer_expires_at <= now,
            )
            .order_by(RegistrationRow.offer_expires_at, RegistrationRow.id)
            .limit(limit)
        )
    )
    ended = 0
    for row in rows:
        # Another worker, or the family's answer, may have got there first.
        await lock_season(uow, row.season_id)
        await uow.session.refresh(row)
        if row.status != RegistrationStatus.OFFERED.value or (
            row.offer_expires_at is not None and row.offer_expires_at > now
        ):
            continue
        if await _end(
            uow,
            notify,
            row,
            RegistrationStatus.CANCELLED,
            actor_person_id=None,
            reason=OFFER_EXPIRED,
            now=now,
        ):
            await notify.offer_expired(uow, row.id)
            ended += 1
    return ended


@dataclass(frozen=True, slots=True)
class FamilyRegistration:
    """A registration with the child's name, for the family's own list."""

    registration: Registration
    child_name: str


def family_order(found: FamilyRegistration) -> tuple[int, int]:
    """Where a registration comes in the family's list: the latest days first."""
    return (-found.registration.starts_on.toordinal(), found.registration.id)


def season_weeks(season: Season) -> list[tuple[date, date]]:
    """The season cut into weeks from its first day, the last one possibly shorter."""
    weeks = []
    first = season.starts_on
    while first <= season.ends_on:
        last = min(first + timedelta(days=6), season.ends_on)
        weeks.append((first, last))
        first = last + timedelta(days=1)
    return weeks


async def open_seasons(uow: UnitOfWork, factory_id: int, today: date) -> list[Season]:
    """Seasons at a factory that still take registrations, soonest first."""
    rows = await uow.session.scalars(
        select(SeasonRow)
        .where(
            SeasonRow.factory_id == factory_id,
            SeasonRow.registration_open.is_(True),
            SeasonRow.registration_deadline >= today,
        )
        .order_by(SeasonRow.starts_on)
    )
    return [to_season(row) for row in rows]


async def get_season(uow: UnitOfWork, season_id: int) -> Season:
    """Return a season.

    Raises:
        NotFound: no such season.
    """
    row = await uow.session.get(SeasonRow, season_id)
    if row is None:
        raise NotFound(f"season {season_id}")
    return to_season(row)


async def list_family_registrations(
    uow: UnitOfWork, person_id: int, today: date
) -> list[FamilyRegistration]:
    """The registrations of the person's children, the latest days first.

    Those that ended (declined with the coordinator's reason, cancelled, an offer that
    lapsed) stay listed until their last day is over, unless the child was registered again.
    """
    rows = await uow.session.execute(_FAMILY, {"person_id": person_id, "today": today})
    found = [FamilyRegistration(await _registration(uow, row), name) for row, name in rows.all()]
    return sorted(found, key=family_order)
