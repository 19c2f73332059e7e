"""Rosters, bookings and attendance as tables, and those tables as CSV or XLSX files.

A coordinator exports only their own factories; the operator at the command line (no acting
person) may export every factory. Season tables are read through the season services.
Every text cell a worker could have typed is made safe for spreadsheets: one that starts like
a formula gets a leading apostrophe, so Excel shows it instead of running it.
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING, Any, Literal, cast
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
from ffs_bot.i18n import N_, Translator, display_width
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

if TYPE_CHECKING:
    # openpyxl (with lxml) is imported by the functions that write a workbook, when one is
    # written: 60 ms and 15 MiB that a process answering chats should not pay at start.
    from openpyxl.cell import Cell as XlsxCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = [
    "CSV_MIME",
    "XLSX_MIME",
    "Cell",
    "ExportFile",
    "Format",
    "Table",
    "attendance_table",
    "bookings_table",
    "export_file",
    "export_table",
    "registrations_table",
    "to_csv",
    "to_xlsx",
    "to_xlsx_sheets",
    "workshop_attendance_table",
]

# A naive datetime or time in a table is the factory's wall-clock time.
Cell = str | int | date | datetime | time | None
Format = Literal["csv", "xlsx"]
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
# Reasons the service stores as codes; any other reason is the coordinator's own words.
REASON_LABELS = {OFFER_DECLINED: N_("Offer turned down"), OFFER_EXPIRED: N_("Offer expired")}

# OWASP's list: what Excel, LibreOffice and Google Sheets take as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_STEM_UNSAFE = re.compile(r"[^\w.-]+")
# What XML 1.0 cannot hold (so neither can an XLSX file): most control characters, U+FFFE,
# U+FFFF and lone surrogates. openpyxl refuses only the control characters.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SHEET_TITLE_UNSAFE = re.compile(r"[\[\]:*?/\\]")
_MIN_WIDTH, _MAX_WIDTH = 8, 50


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table: a header row and the rows under it."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A file to hand to a person or write to disk."""

    filename: str
    content: bytes
    mime: str


@dataclass(frozen=True, slots=True)
class _SeasonAt:
    """A season with what its rows show: the factory's code and time zone."""

    season: Season
    factory_code: str
    timezone: str


@contextmanager
def _bulk() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a table is read, built or written.

    A whole programme's export makes a million rows, tuples and strings that all live until
    the file is written: the collector walked them again and again, a fifth of the export's
    time, and none of them is part of a cycle it could free.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _gettext(translator: Translator | None) -> Callable[[str], str]:
    if translator is None:
        # The operator at the command line reads the English msgids as they are.
        return lambda msgid: msgid
    return translator._


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
    _ = _gettext(translator)
    in_scope = await _seasons(uow, actor_person_id, factory_code, season_id)
    # `_seasons` checked the actor may see each of them.
    with _bulk():
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
                    name,
                    f"{birth_year:04d}-{birth_month:02d}",
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
    _ = _gettext(translator)
    in_scope = await _seasons(uow, actor_person_id, factory_code, season_id)
    dialect = uow.dialect
    with _bulk():
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
                    name,
                    checked_in.astimezone(zone).time(),
                    None if checked_out is None else checked_out.astimezone(zone).time(),
                )
                for season, day, name, _registration, checked_in, checked_out in season_days
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
    _ = _gettext(translator)
    where = await _workshops_where(uow, actor_person_id, factory_code, workshop_id, now)
    statuses = {status: _(label) for status, label in BOOKING_STATUS_LABELS.items()}
    zones: dict[str, ZoneInfo] = {}
    rows: list[tuple[Cell, ...]] = []
    with _bulk():
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
    _ = _gettext(translator)
    where = await _workshops_where(uow, actor_person_id, factory_code, workshop_id, now)
    zones: dict[str, ZoneInfo] = {}
    rows: list[tuple[Cell, ...]] = []
    with _bulk():
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


def _safe_text(text: str) -> str:
    """Text a spreadsheet shows as it is, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, int):
        return str(value)
    return _safe_text(value)


# How CSV shows a cell, by its exact type, for the types the csv module would write
# otherwise; None, int and date it writes itself as `_csv_text` would ("", str(), ISO).
# Any other type (a subclass of str, say) goes through `_csv_text`.
_CSV_AS_IS = frozenset({type(None), int, date})
_CSV_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: _safe_text,
    datetime: methodcaller("isoformat", " ", "minutes"),
    time: methodcaller("isoformat", "minutes"),
}
# A formula start at the start of a line: the cells of a column joined by line breaks.
_LINE_STARTS_LIKE_FORMULA = re.compile("^[=+@\t\r-]", re.MULTILINE)


def _text_passes(column: Sequence[Cell], needs_work: re.Pattern[str]) -> bool:
    """Whether no cell of a column of text (and None) has what `needs_work` finds.

    Joined by line breaks, a cell that starts like a formula starts a line. A line break
    inside a cell may start one too: then the column goes cell by cell, to be sure.
    """
    return not needs_work.search("\n".join(filter(None, cast("Sequence[str | None]", column))))


def _csv_cells(cells: Sequence[Cell]) -> Sequence[Cell]:
    """The cells as CSV writes them."""
    return [
        cell if type(cell) in _CSV_AS_IS else _CSV_BY_TYPE.get(type(cell), _csv_text)(cell)
        for cell in cells
    ]


def _csv_column(column: Sequence[Cell]) -> Sequence[Cell]:
    """A column's cells as CSV writes them, with work only where a cell needs any.

    A whole programme's export is two million cells; most are numbers, days or text that
    starts like no formula, and those columns pass as they are.
    """
    types = set(map(type, column))
    kinds = types - {type(None)}
    if kinds == {date}:
        # A summer has few days: each is written once, not once a row.
        days: dict[Cell, Cell] = {day: str(day) for day in set(column) - {None}}
        return list(map(days.get, column))  # None stays None
    if kinds <= _CSV_AS_IS:
        return column
    if kinds == {str}:
        if _text_passes(column, _LINE_STARTS_LIKE_FORMULA):
            return column
    elif len(types) == 1:  # one type, and no None
        convert = _CSV_BY_TYPE.get(kinds.pop())
        if convert is not None:
            return list(map(convert, column))
    return _csv_cells(column)


# Rows converted and written at a time: small enough to stay in the processor's caches.
_BATCH = 4096


def _by_column(
    rows: Sequence[Sequence[Cell]],
    column_as: Callable[[Sequence[Cell]], Sequence[Any]],
    cells_as: Callable[[Sequence[Cell]], Sequence[Any]],
) -> Iterable[Sequence[Any]]:
    """The rows with their cells converted column by column (row by row if ragged)."""
    widths = set(map(len, rows))
    if len(widths) != 1:
        return map(cells_as, rows)  # none, or ragged: row by row
    columns = [column_as(list(map(itemgetter(i), rows))) for i in range(widths.pop())]
    return zip(*columns, strict=True)


def to_csv(table: Table) -> bytes:
    """The table as CSV in UTF-8 with a byte order mark, which Excel needs to read Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_safe_text(label) for label in table.header])
    with _bulk():
        rows = table.rows
        for start in range(0, len(rows), _BATCH):
            writer.writerows(_by_column(rows[start : start + _BATCH], _csv_column, _csv_cells))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_text(text: str) -> str:
    safe = _safe_text(_NOT_XML.sub("", text))
    # Line breaks as Excel writes them; XML would read a lone CR back as LF anyway.
    return safe.replace("\r\n", "\n").replace("\r", "\n")


def _xlsx_value(value: Cell) -> Cell:
    return _xlsx_text(value) if isinstance(value, str) else value


# What `_xlsx_value` would change in a column of text joined by line breaks.
_XLSX_TEXT_NEEDS_WORK = re.compile(
    f"{_LINE_STARTS_LIKE_FORMULA.pattern}|\r|{_NOT_XML.pattern}", re.MULTILINE
)
# How a workbook shows days and times, by their exact type; `_number_format` for any other.
_XLSX_FORMATS: dict[type, str] = {
    datetime: "yyyy-mm-dd hh:mm",
    date: "yyyy-mm-dd",
    time: "hh:mm",
}


def _number_format(value: Cell) -> str | None:
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return _XLSX_FORMATS[datetime]
    if isinstance(value, date):
        return _XLSX_FORMATS[date]
    if isinstance(value, time):
        return _XLSX_FORMATS[time]
    return None


def _width(value: Cell) -> int:
    """Roughly how many narrow characters the value takes; Chinese characters take two."""
    return display_width(_csv_text(value))


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in a sheet name, and names longer than 31.
    return _SHEET_TITLE_UNSAFE.sub(" ", title)[:31].strip() or "Sheet"


def to_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook: bold, frozen header; days and times as real cells."""
    return to_xlsx_sheets([table])


def to_xlsx_sheets(tables: Sequence[Table]) -> bytes:
    """The tables as one Excel workbook, a sheet each, in order.

    Written in openpyxl's write-only mode: each row goes to the sheet's XML as it is
    appended, and no cell is kept, so a whole programme's rows are never held twice.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    with _bulk():
        for table in tables:
            _write_sheet(workbook.create_sheet(_sheet_title(table.title)), table)
        buffer = io.BytesIO()
        workbook.save(buffer)
    return buffer.getvalue()


def _write_sheet(sheet: WriteOnlyWorksheet, table: Table) -> None:
    """Write the table on a write-only sheet; what comes before the rows is set first."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    rows = table.rows
    for index, label in enumerate(table.header):
        # Each value measured once: a column holds few distinct days, times or labels.
        values = {label, *map(itemgetter(index), rows)}
        width = min(max(max(map(_width, values)) + 2, _MIN_WIDTH), _MAX_WIDTH)
        # types-openpyxl leaves out what WriteOnlyWorksheet shares with Worksheet.
        sheet.column_dimensions[get_column_letter(index + 1)].width = width  # type: ignore[attr-defined]
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    bold = Font(bold=True)
    header = []
    for label in table.header:
        cell = WriteOnlyCell(sheet, _xlsx_text(label))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    cells = _XlsxCells(sheet)
    for start in range(0, len(rows), _BATCH):
        for row in _by_column(rows[start : start + _BATCH], cells.column, cells.row):
            sheet.append(row)
    last_column = get_column_letter(max(1, len(table.header), *map(len, rows)))
    sheet.auto_filter.ref = f"A1:{last_column}{len(rows) + 1}"  # type: ignore[attr-defined]


class _XlsxCells:
    """A sheet's cells as openpyxl's write-only mode takes them, with work only where needed.

    A plain value is passed as it is: openpyxl writes it through one cell it reuses. A day
    or a time needs a cell of its own that carries its number format. (Copying one style
    made per sheet into each, through openpyxl's private `_style`, saved 1-2 % of the time
    of 60,000 bookings: within the noise, not worth reaching inside.)
    """

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        from openpyxl.cell import WriteOnlyCell

        self._sheet = sheet
        self._new_cell = WriteOnlyCell

    def _dated(self, value: Cell, number_format: str) -> XlsxCell:
        cell = self._new_cell(self._sheet)
        # The format before the value: openpyxl gives a day or time without one its own.
        cell.number_format = number_format
        cell.value = value
        return cell

    def _cell(self, value: Cell) -> Cell | XlsxCell:
        number_format = _number_format(value)
        return _xlsx_value(value) if number_format is None else self._dated(value, number_format)

    def row(self, values: Sequence[Cell]) -> list[Cell | XlsxCell]:
        """A row's cells, one by one."""
        return list(map(self._cell, values))

    def column(self, column: Sequence[Cell]) -> Sequence[Cell | XlsxCell]:
        """A column's cells: numbers, and text that needs no change, pass as they are."""
        kinds = set(map(type, column)) - {type(None)}
        if kinds <= {int}:
            return column
        if kinds == {str}:
            if _text_passes(column, _XLSX_TEXT_NEEDS_WORK):
                return column
        elif len(kinds) == 1:
            number_format = _XLSX_FORMATS.get(kinds.pop())
            if number_format is not None:
                return [
                    None if value is None else self._dated(value, number_format)
                    for value in column
                ]
        return self.row(column)


def export_file(table: Table, fmt: Format, stem: str) -> ExportFile:
    """The table as a named CSV or XLSX file; `stem` is made safe for a file name."""
    safe_stem = _STEM_UNSAFE.sub("_", stem).strip("._") or "export"
    if fmt == "csv":
        return ExportFile(f"{safe_stem}.csv", to_csv(table), CSV_MIME)
    return ExportFile(f"{safe_stem}.xlsx", to_xlsx(table), XLSX_MIME)


async def export_table(
    build: Callable[[], Awaitable[Table]], fmt: Format, stem: str
) -> tuple[ExportFile, int]:
    """Build a table and make it a named file, as `export_file`; also its number of rows.

    The cyclic garbage collector is held off until the table is gone: its million objects
    are freed as they were made, by reference counting, and never walked at all.
    """
    with _bulk():
        table = await build()
        rows = len(table.rows)
        exported = export_file(table, fmt, stem)
        del table
    return exported, rows
