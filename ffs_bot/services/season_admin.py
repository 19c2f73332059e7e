"""What a factory's coordinator (or a programme admin) does with a season.

Every function takes the acting person and checks, here in the service layer, that their
role covers the season's factory: a coordinator sees and changes only their own factories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, delete, exists, or_, select
from sqlalchemy.orm import Bundle

from ffs_bot.db.sql import in_lists, plain_rows, utc_read
from ffs_bot.db.tables import (
    AttendanceRow,
    ChildRow,
    FactoryRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    SeasonSponsorRow,
    SponsorRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.model import Bilingual
from ffs_bot.notices import FamilyNotifier
from ffs_bot.services.audit import record_event
from ffs_bot.services.seasons import (
    MAX_CHILD_AGE,
    MAX_PLACE,
    RegistrationStatus,
    Season,
    clean_place,
    lock_season,
    pass_seat,
    to_season,
)
from ffs_bot.services.staff import require_factory, staff_scope

__all__ = [
    "MAX_PLACE",
    "MAX_REASON",
    "MAX_SPONSOR_NAME",
    "Attendance",
    "RosterEntry",
    "RosterRows",
    "SeasonChanges",
    "StaffSeason",
    "check_in",
    "check_out",
    "confirm_registration",
    "decline_registration",
    "registrations",
    "registrations_of_seasons",
    "roster",
    "season_for_staff",
    "seasons_for_staff",
    "set_sponsors",
    "update_season",
]

MAX_REASON = 200
MAX_SPONSOR_NAME = 100
# Pending first, then the queue, then everyone with a place; ended ones last.
_ORDER = {
    RegistrationStatus.REQUESTED.value: 0,
    RegistrationStatus.OFFERED.value: 1,
    RegistrationStatus.WAITLISTED.value: 2,
    RegistrationStatus.CONFIRMED.value: 3,
    RegistrationStatus.DECLINED.value: 4,
    RegistrationStatus.CANCELLED.value: 5,
}


@dataclass(frozen=True, slots=True)
class StaffSeason:
    """A season with its factory and sponsors, as staff see it."""

    season: Season
    factory_code: str
    factory_name_zh: str
    factory_name_en: str
    timezone: str
    place: Bilingual
    sponsors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Attendance:
    """When a child was checked in and out on one day."""

    checked_in_at: datetime
    checked_out_at: datetime | None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A registration with what staff need to look after the child."""

    registration_id: int
    season_id: int
    child_id: int
    child_name: str  # empty when the child's data was erased (`erased`)
    birth_year: int
    birth_month: int
    gender: str | None
    health_notes: str | None
    guardians: tuple[str, ...]
    status: RegistrationStatus
    starts_on: date
    ends_on: date
    registered_at: datetime
    reason: str
    offer_expires_at: datetime | None
    attendance: Attendance | None = None
    # The child's data was erased: the row stays for the days the child came, nameless.
    erased: bool = False


@dataclass(frozen=True, slots=True)
class SeasonChanges:
    """Fields of a season to change; None leaves a field as it is."""

    starts_on: date | None = None
    ends_on: date | None = None
    min_age_years: int | None = None
    max_age_years: int | None = None
    capacity: int | None = None
    registration_deadline: date | None = None
    auto_confirm: bool | None = None
    registration_open: bool | None = None
    place: Bilingual | None = None


async def _sponsor_names(uow: UnitOfWork, season_ids: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    if season_ids:
        rows = await uow.session.execute(
            select(SeasonSponsorRow.season_id, SponsorRow.name)
            .join(SponsorRow, SponsorRow.id == SeasonSponsorRow.sponsor_id)
            .where(SeasonSponsorRow.season_id.in_(season_ids))
            .order_by(SponsorRow.name)
        )
        for season_id, name in rows:
            found.setdefault(season_id, []).append(name)
    return {key: tuple(names) for key, names in found.items()}


async def _staff_seasons(
    uow: UnitOfWork, query_filter: list[ColumnElement[bool]]
) -> list[StaffSeason]:
    rows = (
        await uow.session.execute(
            select(SeasonRow, FactoryRow)
            .join(FactoryRow, FactoryRow.id == SeasonRow.factory_id)
            .where(*query_filter)
            .order_by(SeasonRow.starts_on.desc(), FactoryRow.code, SeasonRow.id)
        )
    ).all()
    sponsors = await _sponsor_names(uow, [season.id for season, _factory in rows])
    return [
        StaffSeason(
            season=to_season(season),
            factory_code=factory.code,
            factory_name_zh=factory.name_zh,
            factory_name_en=factory.name_en,
            timezone=factory.timezone,
            place=Bilingual(season.place, season.place_en),
            sponsors=sponsors.get(season.id, ()),
        )
        for season, factory in rows
    ]


async def seasons_for_staff(uow: UnitOfWork, actor_person_id: int) -> list[StaffSeason]:
    """The seasons at the factories the person runs, newest first (none for non-staff)."""
    scope = await staff_scope(uow, actor_person_id)
    if not scope.is_staff:
        return []
    filters: list[ColumnElement[bool]] = []
    if not scope.every_factory:
        filters.append(SeasonRow.factory_id.in_(scope.factory_ids))
    return await _staff_seasons(uow, filters)


async def season_for_staff(uow: UnitOfWork, actor_person_id: int, season_id: int) -> StaffSeason:
    """One season the person runs.

    Raises:
        NotFound: no such season.
        Forbidden: not one of the person's factories.
    """
    found = await _staff_seasons(uow, [SeasonRow.id == season_id])
    if not found:
        raise NotFound(f"season {season_id}")
    await require_factory(uow, actor_person_id, found[0].season.factory_id)
    return found[0]


async def _owned_season(uow: UnitOfWork, actor_person_id: int, season_id: int) -> SeasonRow:
    season = await lock_season(uow, season_id)
    await require_factory(uow, actor_person_id, season.factory_id)
    return season


async def update_season(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    actor_person_id: int,
    season_id: int,
    changes: SeasonChanges,
    now: datetime | None = None,
) -> Season:
    """Change a season; more seats go to the children waiting, as offers.

    Raises:
        NotFound, Forbidden: as for `season_for_staff`.
        InvalidInput: "dates", "ages", "deadline", "capacity" (below the seats held), "place".
    """
    now = now or utcnow()
    season = await _owned_season(uow, actor_person_id, season_id)
    starts_on = changes.starts_on or season.starts_on
    ends_on = changes.ends_on or season.ends_on
    youngest = season.min_age_years if changes.min_age_years is None else changes.min_age_years
    oldest = season.max_age_years if changes.max_age_years is None else changes.max_age_years
    capacity = season.capacity if changes.capacity is None else changes.capacity
    deadline = changes.registration_deadline or season.registration_deadline
    if ends_on < starts_on:
        raise InvalidInput("dates")
    if not 0 <= youngest <= oldest <= MAX_CHILD_AGE:
        raise InvalidInput("ages")
    if deadline > ends_on:
        raise InvalidInput("deadline")
    if capacity < max(season.seats_taken, 1):
        raise InvalidInput("capacity")
    added = capacity - season.capacity
    season.starts_on, season.ends_on = starts_on, ends_on
    season.min_age_years, season.max_age_years = youngest, oldest
    season.capacity = capacity
    season.registration_deadline = deadline
    if changes.auto_confirm is not None:
        season.auto_confirm = changes.auto_confirm
    if changes.registration_open is not None:
        season.registration_open = changes.registration_open
    if changes.place is not None:
        place = clean_place(changes.place)
        season.place, season.place_en = place.zh, place.en
    await uow.session.flush()
    await record_event(
        uow,
        "season.changed",
        actor_person_id=actor_person_id,
        subject_type="season",
        subject_id=season.id,
        fields=[f.name for f in fields(changes) if getattr(changes, f.name) is not None],
    )
    for _ in range(max(added, 0)):
        # Each new seat is taken, then handed on as an offer (or given back if none wait).
        season.seats_taken += 1
        await uow.session.flush()
        if await pass_seat(uow, notify, season, now) is None:
            await uow.session.refresh(season)
            break
    await uow.session.refresh(season)
    return to_season(season)


async def set_sponsors(
    uow: UnitOfWork, actor_person_id: int | None, season_id: int, names: list[str]
) -> tuple[str, ...]:
    """Say who pays for a season: no names means the factory itself.

    Raises:
        InvalidInput: "sponsor" for an empty or too long name.
    """
    if actor_person_id is None:
        season = await lock_season(uow, season_id)
    else:
        season = await _owned_season(uow, actor_person_id, season_id)
    cleaned = sorted({" ".join(name.split()) for name in names})
    if any(not name or len(name) > MAX_SPONSOR_NAME for name in cleaned):
        raise InvalidInput("sponsor")
    await uow.session.execute(
        delete(SeasonSponsorRow).where(SeasonSponsorRow.season_id == season.id)
    )
    for name in cleaned:
        sponsor_id = await uow.session.scalar(select(SponsorRow.id).where(SponsorRow.name == name))
        if sponsor_id is None:
            sponsor = SponsorRow(name=name)
            uow.session.add(sponsor)
            await uow.session.flush()
            sponsor_id = sponsor.id
        uow.session.add(SeasonSponsorRow(season_id=season.id, sponsor_id=sponsor_id))
    season.funding = "sponsor" if cleaned else "self"
    await uow.session.flush()
    await record_event(
        uow,
        "season.funding",
        actor_person_id=actor_person_id,
        subject_type="season",
        subject_id=season.id,
        sponsors=len(cleaned),
    )
    return tuple(cleaned)


async def registrations(
    uow: UnitOfWork,
    actor_person_id: int | None,
    season_id: int,
    statuses: tuple[RegistrationStatus, ...] = (),
    *,
    day: date | None = None,
) -> list[RosterEntry]:
    """A season's registrations, pending first; with `day`, those covering it and attendance.

    `actor_person_id` None is the operator at the command line, who may see every factory.

    Raises:
        NotFound, Forbidden: as for `season_for_staff`.
    """
    season = await uow.session.get(SeasonRow, season_id)
    if season is None:
        raise NotFound(f"season {season_id}")
    if actor_person_id is not None:
        await require_factory(uow, actor_person_id, season.factory_id)
    return await _entries(uow, [season_id], statuses, day)


# What a roster shows, read as plain rows: a whole programme's registrations are a hundred
# thousand and more, and loading each as ORM objects took most of an export's time.
_REGISTRATION: Bundle[Any] = Bundle(
    "registration",
    RegistrationRow.id,
    RegistrationRow.season_id,
    RegistrationRow.status,
    RegistrationRow.starts_on,
    RegistrationRow.ends_on,
    RegistrationRow.created_at,
    RegistrationRow.reason,
    RegistrationRow.offer_expires_at,
)
_CHILD: Bundle[Any] = Bundle(
    "child",
    ChildRow.id,
    ChildRow.name,
    ChildRow.birth_year,
    ChildRow.birth_month,
    ChildRow.gender,
    ChildRow.health_notes,
    ChildRow.erased_at.is_not(None).label("erased"),
)


@dataclass(frozen=True, slots=True)
class RosterRows:
    """Registrations as plain rows, for a whole programme's export, and their guardians.

    Each row is (season_id, status, starts_on, ends_on, created_at, reason, child_id, name,
    birth_year, birth_month, gender, health_notes, erased), pending first and then by
    registration within each season; `created_at` is aware UTC.
    """

    rows: Sequence[Row[*tuple[Any, ...]]]
    guardians: dict[int, list[str]]  # by child id, in the order they joined


async def registrations_of_seasons(
    uow: UnitOfWork, season_ids: Sequence[int] | None
) -> RosterRows:
    """`registrations` of many seasons (None: every season), for an export the caller may see.

    Plain rows rather than `RosterEntry`s: building a hundred thousand entries was a third of
    a whole programme's export.
    """
    columns = (
        RegistrationRow.season_id,
        RegistrationRow.status,
        RegistrationRow.starts_on,
        RegistrationRow.ends_on,
        utc_read(RegistrationRow.created_at, uow.dialect),
        RegistrationRow.reason,
        *_CHILD.exprs,
    )
    # Every season is read without an IN list: over a whole programme, picking a thousand
    # seasons by the index took longer than reading every row.
    chunks: list[list[ColumnElement[bool]]] = (
        [[]]
        if season_ids is None
        else [[RegistrationRow.season_id.in_(chunk)] for chunk in in_lists(season_ids)]
    )
    rows: list[Row[*tuple[Any, ...]]] = []
    guardians: dict[int, list[str]] = {}
    for where in chunks:
        found = await plain_rows(uow, _pending_first(select(*columns), where))
        if found:
            rows += found
            await _read_guardians(uow, where, guardians)
    return RosterRows(rows, guardians)


def _pending_first(
    query: Select[*tuple[Any, ...]], where: list[ColumnElement[bool]]
) -> Select[*tuple[Any, ...]]:
    """The registrations `where` picks, with their children, pending first."""
    return (
        query.join(ChildRow, ChildRow.id == RegistrationRow.child_id)
        .where(*where)
        .order_by(case(_ORDER, value=RegistrationRow.status, else_=9), RegistrationRow.id)
    )


async def _read_guardians(
    uow: UnitOfWork, where: list[ColumnElement[bool]], guardians: dict[int, list[str]]
) -> None:
    """Add the guardians' names of the children registered `where`, in the order they joined."""
    # The children picked by the same conditions, not an IN list of their ids: a whole
    # programme has more children than SQLite takes parameters.
    children = select(RegistrationRow.child_id).where(*where)
    query = (
        select(GuardianRow.child_id, PersonRow.display_name)
        .join(PersonRow, PersonRow.id == GuardianRow.person_id)
        # An erased child's link to its parents stays for the counts; naming them beside
        # the child's row would say again whose child it was.
        .join(ChildRow, (ChildRow.id == GuardianRow.child_id) & ChildRow.erased_at.is_(None))
        .order_by(GuardianRow.created_at, PersonRow.id)
    )
    if where:
        query = query.where(GuardianRow.child_id.in_(children))
    for child_id, name in await plain_rows(uow, query):
        guardians.setdefault(child_id, []).append(name or "")


async def _entries(
    uow: UnitOfWork,
    season_ids: list[int],
    statuses: tuple[RegistrationStatus, ...] = (),
    day: date | None = None,
) -> list[RosterEntry]:
    """The registrations of `season_ids`, pending first; with `day`, its attendance too.

    With `day`, a child checked in that day is among them whatever became of the place since
    (cancelled, declined, the child's data erased): the day's facts stay as they happened.
    """
    where: list[ColumnElement[bool]] = [RegistrationRow.season_id.in_(season_ids)]
    wanted: list[ColumnElement[bool]] = []
    if statuses:
        wanted.append(RegistrationRow.status.in_([s.value for s in statuses]))
    if day is not None:
        wanted += [RegistrationRow.starts_on <= day, RegistrationRow.ends_on >= day]
        came = exists().where(
            AttendanceRow.registration_id == RegistrationRow.id, AttendanceRow.day == day
        )
        where.append(or_(and_(*wanted), came))
    else:
        where += wanted
    rows = (await uow.session.execute(_pending_first(select(_REGISTRATION, _CHILD), where))).all()
    guardians: dict[int, list[str]] = {}
    if rows:
        await _read_guardians(uow, where, guardians)
    attendance: dict[int, Attendance] = {}
    if day is not None and rows:
        for registration_id, checked_in, checked_out in await uow.session.execute(
            select(
                AttendanceRow.registration_id,
                AttendanceRow.checked_in_at,
                AttendanceRow.checked_out_at,
            ).where(
                AttendanceRow.day == day,
                AttendanceRow.registration_id.in_([row.id for row, _child in rows]),
            )
        ):
            attendance[registration_id] = Attendance(checked_in, checked_out)
    return [
        RosterEntry(
            registration_id=row.id,
            season_id=row.season_id,
            child_id=child.id,
            child_name=child.name,
            birth_year=child.birth_year,
            birth_month=child.birth_month,
            gender=child.gender,
            health_notes=child.health_notes,
            guardians=tuple(guardians.get(child.id, ())),
            status=RegistrationStatus(row.status),
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            registered_at=row.created_at,
            reason=row.reason,
            offer_expires_at=row.offer_expires_at,
            attendance=attendance.get(row.id),
            erased=child.erased,
        )
        for row, child in rows
    ]


async def roster(
    uow: UnitOfWork, actor_person_id: int | None, season_id: int, day: date
) -> list[RosterEntry]:
    """The children with a confirmed place on `day`, or checked in that day, with their times."""
    return await registrations(
        uow, actor_person_id, season_id, (RegistrationStatus.CONFIRMED,), day=day
    )


async def _staff_registration(
    uow: UnitOfWork, actor_person_id: int, registration_id: int
) -> tuple[RegistrationRow, SeasonRow]:
    row = await uow.session.get(RegistrationRow, registration_id)
    if row is None:
        raise NotFound(f"registration {registration_id}")
    season = await _owned_season(uow, actor_person_id, row.season_id)
    await uow.session.refresh(row)
    return row, season


async def confirm_registration(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    actor_person_id: int,
    registration_id: int,
    now: datetime | None = None,
) -> bool:
    """Confirm a requested place and tell the family; False if it was confirmed already.

    Raises:
        NotFound, Forbidden: as for `season_for_staff`.
        ConflictError: the registration is not waiting for a decision (its status says why).
    """
    row, _season_row = await _staff_registration(uow, actor_person_id, registration_id)
    if row.status == RegistrationStatus.CONFIRMED.value:
        return False
    if row.status != RegistrationStatus.REQUESTED.value:
        raise ConflictError(row.status)
    row.status = RegistrationStatus.CONFIRMED.value
    row.decided_by = actor_person_id
    row.decided_at = now or utcnow()
    await uow.session.flush()
    await record_event(
        uow,
        "registration.confirmed",
        actor_person_id=actor_person_id,
        subject_type="registration",
        subject_id=row.id,
    )
    await notify.confirmed(uow, row.id)
    return True


def clean_reason(text: str) -> str:
    """Collapse spaces in a decline reason and check it is there and not too long.

    Raises:
        InvalidInput: "reason".
    """
    reason = " ".join(text.split())
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("reason")
    return reason


async def decline_registration(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    actor_person_id: int,
    registration_id: int,
    reason: str,
    now: datetime | None = None,
) -> RegistrationStatus:
    """Decline a registration with a reason the family is told; a seat it held goes on.

    Raises:
        NotFound, Forbidden: as for `season_for_staff`.
        InvalidInput: "reason", empty or too long.
        ConflictError: the registration has ended already.
    """
    reason = clean_reason(reason)
    now = now or utcnow()
    row, season = await _staff_registration(uow, actor_person_id, registration_id)
    if row.status in (RegistrationStatus.CANCELLED.value, RegistrationStatus.DECLINED.value):
        raise ConflictError(row.status)
    held = row.status in (
        RegistrationStatus.REQUESTED.value,
        RegistrationStatus.CONFIRMED.value,
        RegistrationStatus.OFFERED.value,
    )
    row.status = RegistrationStatus.DECLINED.value
    row.reason = reason
    row.offer_expires_at = None
    row.decided_by = actor_person_id
    row.decided_at = now
    await uow.session.flush()
    await record_event(
        uow,
        "registration.declined",
        actor_person_id=actor_person_id,
        subject_type="registration",
        subject_id=row.id,
    )
    await notify.declined(uow, row.id, reason)
    if held:
        await pass_seat(uow, notify, season, now)
    return RegistrationStatus.DECLINED


async def _attendance_row(
    uow: UnitOfWork,
    actor_person_id: int,
    registration_id: int,
    day: date,
    *,
    leaving: bool = False,
) -> tuple[RegistrationRow, AttendanceRow | None]:
    row, season = await _staff_registration(uow, actor_person_id, registration_id)
    found = await uow.session.scalar(
        select(AttendanceRow).where(
            AttendanceRow.registration_id == registration_id, AttendanceRow.day == day
        )
    )
    # A child checked in goes home that day whatever became of the place meanwhile (its
    # data erased, say): staff still check them out.
    if row.status != RegistrationStatus.CONFIRMED.value and not (leaving and found is not None):
        raise ConflictError(row.status)
    if not season.starts_on <= day <= season.ends_on:
        raise InvalidInput("day")
    return row, found


async def check_in(
    uow: UnitOfWork,
    actor_person_id: int,
    registration_id: int,
    day: date,
    now: datetime | None = None,
) -> tuple[Attendance, bool]:
    """Check a child in for the day; again keeps the first time (and says False).

    Raises:
        NotFound, Forbidden: as for `season_for_staff`.
        ConflictError: the child has no confirmed place.
        InvalidInput: "day" outside the season.
    """
    row, found = await _attendance_row(uow, actor_person_id, registration_id, day)
    changed = found is None
    if found is None:
        found = AttendanceRow(
            registration_id=row.id,
            day=day,
            checked_in_at=now or utcnow(),
            checked_in_by=actor_person_id,
        )
        uow.session.add(found)
        await uow.session.flush()
        await record_event(
            uow,
            "attendance.in",
            actor_person_id=actor_person_id,
            subject_type="registration",
            subject_id=row.id,
            day=day.isoformat(),
        )
    return Attendance(found.checked_in_at, found.checked_out_at), changed


async def check_out(
    uow: UnitOfWork,
    actor_person_id: int,
    registration_id: int,
    day: date,
    now: datetime | None = None,
) -> tuple[Attendance, bool]:
    """Check a child out for the day; again keeps the first time (and says False).

    A child checked in that day can be checked out even if the place has ended since.

    Raises:
        NotFound, Forbidden, ConflictError, InvalidInput: as for `check_in`, and
        InvalidInput "not_in" when the child was not checked in that day.
    """
    row, found = await _attendance_row(uow, actor_person_id, registration_id, day, leaving=True)
    if found is None:
        raise InvalidInput("not_in")
    changed = found.checked_out_at is None
    if found.checked_out_at is None:
        found.checked_out_at = now or utcnow()
        found.checked_out_by = actor_person_id
        await uow.session.flush()
        await record_event(
            uow,
            "attendance.out",
            actor_person_id=actor_person_id,
            subject_type="registration",
            subject_id=row.id,
            day=day.isoformat(),
        )
    return Attendance(found.checked_in_at, found.checked_out_at), changed
