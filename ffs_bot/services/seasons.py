"""Family-Friendly Space seasons and registrations: a seat is taken by one conditional UPDATE.

Never "count, then insert": `UPDATE season SET seats_taken = seats_taken + 1 WHERE id = ? AND
seats_taken < capacity` either takes a seat or does not, whatever runs at the same time; a
check constraint and a unique index on live registrations back it up. Registrations for one
season are serialized on its row, so those who find no seat are waitlisted in commit order and
told their exact place.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError

from ffs_bot.db.tables import ChildRow, FactoryRow, GuardianRow, RegistrationRow, SeasonRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.services.audit import record_event
from ffs_bot.services.children import get_child
from ffs_bot.services.factories import normalise_code

__all__ = [
    "FamilyRegistration",
    "Funding",
    "Registration",
    "RegistrationStatus",
    "Season",
    "cancel_registration",
    "create_season",
    "get_season",
    "list_family_registrations",
    "open_seasons",
    "parse_date_range",
    "register_child",
]

MAX_CHILD_AGE = 17
_DAY = re.compile(r"(\d{1,2})\s*[/.月-]\s*(\d{1,2})\s*[日号]?")


class RegistrationStatus(StrEnum):
    """Where a registration stands."""

    REQUESTED = "requested"  # holds a seat until the coordinator confirms or declines
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


HOLDS_SEAT = (RegistrationStatus.REQUESTED.value, RegistrationStatus.CONFIRMED.value)


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


def _season(row: SeasonRow) -> Season:
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
    actor_person_id: int | None = None,
) -> Season:
    """Open a season at a factory.

    Raises:
        NotFound: no such factory.
        InvalidInput: dates, ages or capacity that cannot be.
    """
    factory_id = await uow.session.scalar(
        select(FactoryRow.id).where(FactoryRow.code == normalise_code(factory_code))
    )
    if factory_id is None:
        raise NotFound(f"factory {factory_code}")
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
    return _season(row)


async def _queue_position(uow: UnitOfWork, row: RegistrationRow) -> int | None:
    if row.status != RegistrationStatus.WAITLISTED.value:
        return None
    ahead = await uow.session.scalar(
        select(func.count())
        .select_from(RegistrationRow)
        .where(
            RegistrationRow.season_id == row.season_id,
            RegistrationRow.status == RegistrationStatus.WAITLISTED.value,
            RegistrationRow.id <= row.id,
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
    )


async def register_child(
    uow: UnitOfWork,
    *,
    person_id: int,
    child_id: int,
    season_id: int,
    starts_on: date,
    ends_on: date,
    today: date,
) -> Registration:
    """Register one of the person's children for the days given; seat or waitlist.

    Raises:
        NotFound: not the person's child, or no such season.
        InvalidInput: "closed" (registration is over), "dates" (outside the season or
            backwards), or "age" (the child's age at the start is outside the season's).
        ConflictError: the child is registered for this season already.
    """
    child = await get_child(uow, person_id, child_id)
    query = select(SeasonRow).where(SeasonRow.id == season_id)
    if uow.dialect == "postgresql":
        # Registrations for one season go one at a time (SQLite's write lock does the same),
        # so the queue's order is the order of commits and each place we tell is exact.
        query = query.with_for_update()
    season = await uow.session.scalar(query)
    if season is None:
        raise NotFound(f"season {season_id}")
    if not season.registration_open or today > season.registration_deadline:
        raise InvalidInput("closed")
    if starts_on > ends_on or starts_on < season.starts_on or ends_on > season.ends_on:
        raise InvalidInput("dates")
    age = child.age_in_months(season.starts_on.year, season.starts_on.month) // 12
    if not season.min_age_years <= age <= season.max_age_years:
        raise InvalidInput("age")
    live = await uow.session.scalar(
        select(RegistrationRow.id).where(
            RegistrationRow.season_id == season_id,
            RegistrationRow.child_id == child_id,
            RegistrationRow.status != RegistrationStatus.CANCELLED.value,
        )
    )
    if live is not None:
        raise ConflictError("already")
    taken = await uow.session.execute(
        update(SeasonRow)
        .where(SeasonRow.id == season_id, SeasonRow.seats_taken < SeasonRow.capacity)
        .values(seats_taken=SeasonRow.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(taken, CursorResult)
    if taken.rowcount == 1:
        status = (
            RegistrationStatus.CONFIRMED if season.auto_confirm else RegistrationStatus.REQUESTED
        )
    else:
        status = RegistrationStatus.WAITLISTED
    row = RegistrationRow(
        season_id=season_id,
        child_id=child_id,
        registered_by=person_id,
        status=status.value,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError:
        # The other guardian registered the same child at the same moment.
        raise ConflictError("already") from None
    await record_event(
        uow,
        "registration.created",
        actor_person_id=person_id,
        subject_type="registration",
        subject_id=row.id,
        status=status.value,
    )
    return await _registration(uow, row)


async def cancel_registration(
    uow: UnitOfWork, person_id: int, registration_id: int
) -> Registration:
    """Cancel a registration of one of the person's children; its seat is freed.

    Raises:
        NotFound: no such registration, or not one of the person's children's.
    """
    row = await uow.session.get(RegistrationRow, registration_id)
    if row is None:
        raise NotFound(f"registration {registration_id}")
    await get_child(uow, person_id, row.child_id)
    if row.status in HOLDS_SEAT:
        await uow.session.execute(
            update(SeasonRow)
            .where(SeasonRow.id == row.season_id, SeasonRow.seats_taken > 0)
            .values(seats_taken=SeasonRow.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )
    if row.status != RegistrationStatus.CANCELLED.value:
        row.status = RegistrationStatus.CANCELLED.value
        await record_event(
            uow,
            "registration.cancelled",
            actor_person_id=person_id,
            subject_type="registration",
            subject_id=row.id,
        )
    await uow.session.flush()
    return await _registration(uow, row)


@dataclass(frozen=True, slots=True)
class FamilyRegistration:
    """A registration with the child's name, for the family's own list."""

    registration: Registration
    child_name: str


def parse_date_range(text: str, year: int) -> tuple[date, date]:
    """Read days typed as 7/10-8/15, 7.10 - 8.15 or 7月10日到8月15日, in the season's year.

    Raises:
        InvalidInput: not two month/day dates, or a date that does not exist.
    """
    days = _DAY.findall(unicodedata.normalize("NFKC", text))
    if len(days) != 2:
        raise InvalidInput("dates")
    try:
        first, last = (date(year, int(month), int(day)) for month, day in days)
    except ValueError:
        raise InvalidInput("dates") from None
    return first, last


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
    return [_season(row) for row in rows]


async def get_season(uow: UnitOfWork, season_id: int) -> Season:
    """Return a season.

    Raises:
        NotFound: no such season.
    """
    row = await uow.session.get(SeasonRow, season_id)
    if row is None:
        raise NotFound(f"season {season_id}")
    return _season(row)


async def list_family_registrations(uow: UnitOfWork, person_id: int) -> list[FamilyRegistration]:
    """The live registrations of the person's children, newest season first."""
    rows = await uow.session.execute(
        select(RegistrationRow, ChildRow.name)
        .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
        .join(GuardianRow, GuardianRow.child_id == ChildRow.id)
        .where(
            GuardianRow.person_id == person_id,
            RegistrationRow.status != RegistrationStatus.CANCELLED.value,
        )
        .order_by(RegistrationRow.starts_on.desc(), RegistrationRow.id)
    )
    return [FamilyRegistration(await _registration(uow, row), name) for row, name in rows.all()]
