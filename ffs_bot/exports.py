"""Rosters, bookings and attendance as tables, which `ffs_bot.spreadsheets` makes files of.

A coordinator exports only their own factories; the operator at the command line (no acting
person) may export every factory. Season tables are read through the season services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, case, func, select
from sqlalchemy.orm import QueryableAttribute

from ffs_bot.db.sql import in_lists, plain_rows, utc_read
from ffs_bot.db.tables import (
    AttendanceRow,
    BookingRow,
    ChildRow,
    FactoryRow,
    FeedbackRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    WorkshopRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.i18n import N_, Translator
from ffs_bot.model import Gender, age_in_months
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.season_admin import (
    registrations_of_seasons,
    season_for_staff,
    seasons_for_staff,
)
from ffs_bot.services.seasons import (
    OFFER_DECLINED,
    OFFER_EXPIRED,
    RegistrationStatus,
    Season,
    to_season,
)
from ffs_bot.services.staff import require_factory, staff_scope
from ffs_bot.services.workshops import LIVE, BookingStatus
from ffs_bot.spreadsheets import Cell, Table, bulk, table_gettext

__all__ = [
    "ERASED_CHILD",
    "attendance_table",
    "bookings_table",
    "registrations_table",
    "workshop_attendance_table",
]

REGISTRATION_COLUMNS = (
    N_("Factory"),
    N_("Season"),
    N_("Season starts"),
    N_("Season ends"),
    N_("Child"),
    N_("Birth month"),
    N_("Age at start"),
    N_("Gender"),
    N_("Guardians"),
    N_("Status"),
    N_("First day"),
    N_("Last day"),
    N_("Registered at"),
    N_("Reason"),
    N_("Health notes"),
)
ATTENDANCE_COLUMNS = (
    N_("Factory"),
    N_("Season"),
    N_("Day"),
    N_("Child"),
    N_("Checked in"),
    N_("Checked out"),
)
STATUS_LABELS = {
    RegistrationStatus.REQUESTED: N_("Requested"),
    RegistrationStatus.OFFERED: N_("Offered a place"),
    RegistrationStatus.WAITLISTED: N_("Waiting list"),
    RegistrationStatus.CONFIRMED: N_("Confirmed"),
    RegistrationStatus.DECLINED: N_("Declined"),
    RegistrationStatus.CANCELLED: N_("Cancelled"),
}
BOOKING_COLUMNS = (
    N_("Factory"),
    N_("Workshop"),
    N_("Day"),
    N_("Starts"),
    N_("Ends"),
    N_("Topic"),
    N_("Person"),
    N_("Status"),
    N_("Booking code"),
    N_("Checked in"),
    N_("Rating"),
    N_("Comment"),
)
WORKSHOP_ATTENDANCE_COLUMNS = (
    N_("Factory"),
    N_("Workshop"),
    N_("Day"),
    N_("Topic"),
    N_("Person"),
    N_("Checked in"),
    N_("Rating"),
)
BOOKING_STATUS_LABELS = {
    BookingStatus.CONFIRMED: N_("Confirmed"),
    BookingStatus.OFFERED: N_("Offered a place"),
    BookingStatus.WAITLISTED: N_("Waiting list"),
    BookingStatus.CANCELLED: N_("Cancelled"),
}
# Seats first, then the queue; a cancelled booking is listed only if the person came.
BOOKING_ORDER = {status: rank for rank, status in enumerate(BOOKING_STATUS_LABELS)}
# How far back an export reaches when no one workshop is asked for: a programme year.
WORKSHOP_HISTORY = timedelta(days=365)
GENDER_LABELS = {Gender.GIRL.value: N_("Girl"), Gender.BOY.value: N_("Boy")}
# What staff see in place of the name of a child whose data was erased: the row stays, as
# the days the child came and the place they had stay facts of the programme.
ERASED_CHILD = N_("Erased child")
# Reasons the service stores as codes; any other reason is the coordinator's own words.
REASON_LABELS = {OFFER_DECLINED: N_("Offer turned down"), OFFER_EXPIRED: N_("Offer expired")}


@dataclass(frozen=True, slots=True)
class _SeasonAt:
    """A season with what its rows show: the factory's code and time zone."""

    season: Season
    factory_code: str
    timezone: str


async def _factory_id(uow: UnitOfWork, factory_code: str) -> int:
    code = normalise_code(factory_code)
    found = await uow.session.scalar(select(FactoryRow.id).where(FactoryRow.code == code))
    if found is None:
        raise NotFound(f"unknown factory code {code}")
    return found


@dataclass(frozen=True, slots=True)
class _Scope:
    """The seasons to export, oldest first, and whether they are every season there is."""

    seasons: list[_SeasonAt]
    every: bool

    @property
    def season_ids(self) -> list[int] | None:
        """The seasons' ids, or None for every season: reading those needs no IN list."""
        return None if self.every else [at.season.id for at in self.seasons]


async def _seasons(
    uow: UnitOfWork, actor_person_id: int | None, factory_code: str | None, season_id: int | None
) -> _Scope:
    """The seasons to export, after checking the actor may see them."""
    factory_id = None if factory_code is None else await _factory_id(uow, factory_code)
    every = factory_id is None and season_id is None
    if actor_person_id is None:
        query = select(SeasonRow, FactoryRow).join(
            FactoryRow, FactoryRow.id == SeasonRow.factory_id
        )
        if factory_id is not None:
            query = query.where(SeasonRow.factory_id == factory_id)
        if season_id is not None:
            query = query.where(SeasonRow.id == season_id)
        found = [
            _SeasonAt(to_season(season), factory.code, factory.timezone)
            for season, factory in await uow.session.execute(query)
        ]
    else:
        if factory_id is not None:
            await require_factory(uow, actor_person_id, factory_id)
        if season_id is not None:
            staff_seasons = [await season_for_staff(uow, actor_person_id, season_id)]
        else:
            scope = await staff_scope(uow, actor_person_id)
            if not scope.is_staff:
                raise Forbidden(f"person {actor_person_id} runs no factory")
            every = every and scope.every_factory
            staff_seasons = await seasons_for_staff(uow, actor_person_id)
        found = [
            _SeasonAt(s.season, s.factory_code, s.timezone)
            for s in staff_seasons
            if factory_id is None or s.season.factory_id == factory_id
        ]
    if season_id is not None and not found:
        # The season is at another factory: as far as this factory goes, there is none.
        where = "" if factory_code is None else f" at factory {normalise_code(factory_code)}"
        raise NotFound(f"season {season_id}{where}")
    found.sort(key=lambda s: (s.factory_code, s.season.starts_on, s.season.id))
    return _Scope(found, every)


def _wall_clock(value: datetime, zone: ZoneInfo) -> datetime:
    """The factory's wall-clock time of an aware `value`, naive, as spreadsheets want it."""
    local = value.astimezone(zone)
    # Not `local.replace(tzinfo=None)`: the same, at a sixth of the time.
    return datetime.combine(local.date(), local.time())


async def registrations_table(
    uow: UnitOfWork,
    *,
    actor_person_id: int | None,
    factory_code: str | None = None,
    season_id: int | None = None,
    translator: Translator | None = None,
) -> Table:
    """Every registration of the seasons in scope, pending first within each season.

    Raises:
        NotFound: an unknown factory code or season, or a season not at that factory.
        Forbidden: a person who runs none of those factories.
    """
    _ = table_gettext(translator)
    in_scope = await _seasons(uow, actor_person_id, factory_code, season_id)
    # `_seasons` checked the actor may see each of them.
    with bulk():
        found = await registrations_of_seasons(uow, in_scope.season_ids)
        by_season: dict[int, list[Row[*tuple[Any, ...]]]] = {
            at.season.id: [] for at in in_scope.seasons
        }
        for row in found.rows:
            by_season[row.season_id].append(row)
        guardians = {child: "; ".join(names) for child, names in found.guardians.items()}
        # Labels translated once, not once a row: a whole programme is a hundred thousand rows.
        statuses = {status.value: _(label) for status, label in STATUS_LABELS.items()}
        genders = {gender: _(label) for gender, label in GENDER_LABELS.items()}
        reasons = {reason: _(label) for reason, label in REASON_LABELS.items()}
        erased_child = _(ERASED_CHILD)
        rows: list[tuple[Cell, ...]] = []
        for at in in_scope.seasons:
            season, zone = at.season, ZoneInfo(at.timezone)
            start = season.starts_on
            rows += [
                (
                    at.factory_code,
                    season.id,
                    start,
                    season.ends_on,
                    erased_child if erased else name,
                    # Only the year of an erased child is kept: its month is no fact.
                    f"{birth_year:04d}" if erased else f"{birth_year:04d}-{birth_month:02d}",
                    age_in_months(birth_year, birth_month, start.year, start.month) // 12,
                    genders.get(gender),
                    guardians.get(child_id, ""),
                    statuses[status],
                    starts_on,
                    ends_on,
                    _wall_clock(created_at, zone),
                    reasons.get(reason, reason),
                    health_notes,
                )
                for (
                    _season,
                    status,
                    starts_on,
                    ends_on,
                    created_at,
                    reason,
                    child_id,
                    name,
                    birth_year,
                    birth_month,
                    gender,
                    health_notes,
                    erased,
                ) in by_season[season.id]
            ]
    return Table(_("Registrations"), tuple(map(_, REGISTRATION_COLUMNS)), rows)


_BY_DAY_AND_NAME = itemgetter(1, 2, 3)  # of the attendance rows read below


async def attendance_table(
    uow: UnitOfWork,
    *,
    actor_person_id: int | None,
    factory_code: str | None = None,
    season_id: int | None = None,
    translator: Translator | None = None,
) -> Table:
    """One row per child and day checked in, by day and then name within each season.

    Raises:
        NotFound, Forbidden: as for `registrations_table`.
    """
    _ = table_gettext(translator)
    in_scope = await _seasons(uow, actor_person_id, factory_code, season_id)
    dialect = uow.dialect
    with bulk():
        # Every season's days in one statement (or one per thousand seasons), as plain columns
        # in the order they are sorted by: a whole programme is hundreds of thousands of days.
        query = (
            select(
                RegistrationRow.season_id,
                AttendanceRow.day,
                ChildRow.name,
                AttendanceRow.registration_id,
                utc_read(AttendanceRow.checked_in_at, dialect),
                utc_read(AttendanceRow.checked_out_at, dialect),
                ChildRow.erased_at.is_not(None),
            )
            .join(RegistrationRow, RegistrationRow.id == AttendanceRow.registration_id)
            .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
        )
        ids = in_scope.season_ids
        chunks = (
            [[]] if ids is None else [[RegistrationRow.season_id.in_(c)] for c in in_lists(ids)]
        )
        days: dict[int, list[Row[*tuple[Any, ...]]]] = {
            at.season.id: [] for at in in_scope.seasons
        }
        for where in chunks:
            for row in await plain_rows(uow, query.where(*where)):
                days[row[0]].append(row)
        erased_child = _(ERASED_CHILD)
        rows: list[tuple[Cell, ...]] = []
        for at in in_scope.seasons:
            code, zone = at.factory_code, ZoneInfo(at.timezone)
            # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently.
            # A child has one row a day: (day, name, registration) never ties.
            season_days = sorted(days[at.season.id], key=_BY_DAY_AND_NAME)
            rows += [
                (
                    code,
                    season,
                    day,
                    erased_child if erased else name,
                    checked_in.astimezone(zone).time(),
                    None if checked_out is None else checked_out.astimezone(zone).time(),
                )
                for season, day, name, _registration, checked_in, checked_out, erased in (
                    season_days
                )
            ]
    return Table(_("Attendance"), tuple(map(_, ATTENDANCE_COLUMNS)), rows)


async def _workshops_where(
    uow: UnitOfWork,
    actor_person_id: int | None,
    factory_code: str | None,
    workshop_id: int | None,
    now: datetime | None,
) -> list[ColumnElement[bool]]:
    """Which workshops to export, after checking the actor may see them."""
    code = None if factory_code is None else normalise_code(factory_code)
    factory_id = None if code is None else await _factory_id(uow, code)
    scope = None if actor_person_id is None else await staff_scope(uow, actor_person_id)
    if scope is not None and not scope.is_staff:
        raise Forbidden(f"person {actor_person_id} runs no factory")
    where: list[ColumnElement[bool]] = []
    if factory_id is not None:
        if actor_person_id is not None:
            await require_factory(uow, actor_person_id, factory_id)
        where.append(WorkshopRow.factory_id == factory_id)
    elif scope is not None and not scope.every_factory:
        where.append(WorkshopRow.factory_id.in_(scope.factory_ids))
    if workshop_id is None:
        where.append(WorkshopRow.starts_at >= (now or utcnow()) - WORKSHOP_HISTORY)
        return where
    workshop = await uow.session.get(WorkshopRow, workshop_id)
    if workshop is None:
        raise NotFound(f"workshop {workshop_id}")
    if factory_id is not None and workshop.factory_id != factory_id:
        # As far as this factory goes, there is no such workshop.
        raise NotFound(f"workshop {workshop_id} at factory {code}")
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, workshop.factory_id)
    where.append(WorkshopRow.id == workshop_id)
    return where


async def _booked(
    uow: UnitOfWork,
    where: list[ColumnElement[bool]],
    only: ColumnElement[bool],
    *order_by: ColumnElement[Any] | QueryableAttribute[Any],
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The bookings of the workshops `where` picks, with `only` narrowing them further.

    Plain rows of (starts_at, workshop id, person's name or "", booking id, ends_at, topic,
    factory code, time zone, status, booking code, checked_in_at, rating, comment), times
    aware UTC: a year of bookings is tens of thousands.
    """
    dialect = uow.dialect
    return await plain_rows(
        uow,
        select(
            utc_read(WorkshopRow.starts_at, dialect),
            WorkshopRow.id,
            func.coalesce(PersonRow.display_name, ""),
            BookingRow.id,
            utc_read(WorkshopRow.ends_at, dialect),
            WorkshopRow.topic,
            FactoryRow.code,
            FactoryRow.timezone,
            BookingRow.status,
            BookingRow.code,
            utc_read(BookingRow.checked_in_at, dialect),
            FeedbackRow.rating,
            FeedbackRow.comment,
        )
        .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
        .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
        .join(PersonRow, PersonRow.id == BookingRow.person_id)
        .outerjoin(FeedbackRow, FeedbackRow.booking_id == BookingRow.id)
        .where(*where, only)
        .order_by(*order_by),
    )


async def bookings_table(
    uow: UnitOfWork,
    *,
    actor_person_id: int | None,
    factory_code: str | None = None,
    workshop_id: int | None = None,
    translator: Translator | None = None,
    now: datetime | None = None,
) -> Table:
    """Live bookings and attended ones, by workshop start; seats, then the queue, in each.

    Without a workshop, the workshops of the last year and those to come.

    Raises:
        NotFound: an unknown factory code or workshop, or a workshop not at that factory.
        Forbidden: a person who runs none of those factories.
    """
    _ = table_gettext(translator)
    where = await _workshops_where(uow, actor_person_id, factory_code, workshop_id, now)
    statuses = {status: _(label) for status, label in BOOKING_STATUS_LABELS.items()}
    zones: dict[str, ZoneInfo] = {}
    rows: list[tuple[Cell, ...]] = []
    with bulk():
        found = await _booked(
            uow,
            where,
            # Cancelled bookings are noise in a roster, unless the person came all the same.
            BookingRow.status.in_(LIVE) | BookingRow.checked_in_at.is_not(None),
            # Sorted in SQL: no text among the keys, so no collation to differ.
            WorkshopRow.starts_at,
            WorkshopRow.id,
            case(BOOKING_ORDER, value=BookingRow.status, else_=len(BOOKING_ORDER)),
            BookingRow.id,
        )
        for (
            starts_at,
            workshop,
            name,
            _booking,
            ends_at,
            topic,
            code,
            timezone,
            status,
            booking_code,
            checked_in,
            rating,
            comment,
        ) in found:
            zone = zones.get(timezone) or zones.setdefault(timezone, ZoneInfo(timezone))
            starts = starts_at.astimezone(zone)
            rows.append(
                (
                    code,
                    workshop,
                    starts.date(),
                    starts.time(),
                    ends_at.astimezone(zone).time(),
                    topic,
                    name,
                    statuses.get(status, status),
                    booking_code,
                    None if checked_in is None else _wall_clock(checked_in, zone),
                    rating,
                    comment or None,
                )
            )
    return Table(_("Workshop bookings"), tuple(map(_, BOOKING_COLUMNS)), rows)


async def workshop_attendance_table(
    uow: UnitOfWork,
    *,
    actor_person_id: int | None,
    factory_code: str | None = None,
    workshop_id: int | None = None,
    translator: Translator | None = None,
    now: datetime | None = None,
) -> Table:
    """One row per person checked in, by workshop start and then name.

    Raises:
        NotFound, Forbidden: as for `bookings_table`.
    """
    _ = table_gettext(translator)
    where = await _workshops_where(uow, actor_person_id, factory_code, workshop_id, now)
    zones: dict[str, ZoneInfo] = {}
    rows: list[tuple[Cell, ...]] = []
    with bulk():
        found = await _booked(uow, where, BookingRow.checked_in_at.is_not(None))
        # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently. By
        # workshop start, workshop, name and booking: the first four columns read.
        for (
            starts_at,
            workshop,
            name,
            _booking,
            _ends,
            topic,
            code,
            timezone,
            _status,
            _booking_code,
            checked_in,
            rating,
            _comment,
        ) in sorted(found, key=_BY_START_AND_NAME):
            zone = zones.get(timezone) or zones.setdefault(timezone, ZoneInfo(timezone))
            rows.append(
                (
                    code,
                    workshop,
                    starts_at.astimezone(zone).date(),
                    topic,
                    name,
                    _wall_clock(checked_in, zone),
                    rating,
                )
            )
    return Table(_("Workshop attendance"), tuple(map(_, WORKSHOP_ATTENDANCE_COLUMNS)), rows)


_BY_START_AND_NAME = itemgetter(0, 1, 2, 3)  # of the rows `_booked` reads
