"""Rosters, bookings and attendance as tables, and those tables as CSV or XLSX files.

A coordinator exports only their own factories; the operator at the command line (no acting
person) may export every factory. Season tables are read through the season services.
Every text cell a worker could have typed is made safe for spreadsheets: one that starts like
a formula gets a leading apostrophe, so Excel shows it instead of running it.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Bundle

from ffs_bot.db.sql import in_lists
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


async def _seasons(
    uow: UnitOfWork, actor_person_id: int | None, factory_code: str | None, season_id: int | None
) -> list[_SeasonAt]:
    """The seasons to export, after checking the actor may see them; oldest first."""
    factory_id = None if factory_code is None else await _factory_id(uow, factory_code)
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
        elif (await staff_scope(uow, actor_person_id)).is_staff:
            staff_seasons = await seasons_for_staff(uow, actor_person_id)
        else:
            raise Forbidden(f"person {actor_person_id} runs no factory")
        found = [
            _SeasonAt(s.season, s.factory_code, s.timezone)
            for s in staff_seasons
            if factory_id is None or s.season.factory_id == factory_id
        ]
    if season_id is not None and not found:
        # The season is at another factory: as far as this factory goes, there is none.
        where = "" if factory_code is None else f" at factory {normalise_code(factory_code)}"
        raise NotFound(f"season {season_id}{where}")
    return sorted(found, key=lambda s: (s.factory_code, s.season.starts_on, s.season.id))


def _local(value: datetime, timezone: str) -> datetime:
    """The factory's wall-clock time, naive, as spreadsheets want it."""
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


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
    rows: list[tuple[Cell, ...]] = []
    in_scope = await _seasons(uow, actor_person_id, factory_code, season_id)
    # `_seasons` checked the actor may see each of them.
    entries = await registrations_of_seasons(uow, [at.season.id for at in in_scope])
    for at in in_scope:
        season = at.season
        start = season.starts_on
        for entry in entries[season.id]:
            months = age_in_months(entry.birth_year, entry.birth_month, start.year, start.month)
            gender = GENDER_LABELS.get(entry.gender or "")
            code = REASON_LABELS.get(entry.reason)
            rows.append(
                (
                    at.factory_code,
                    season.id,
                    season.starts_on,
                    season.ends_on,
                    entry.child_name,
                    f"{entry.birth_year:04d}-{entry.birth_month:02d}",
                    months // 12,
                    None if gender is None else _(gender),
                    "; ".join(entry.guardians),
                    _(STATUS_LABELS[entry.status]),
                    entry.starts_on,
                    entry.ends_on,
                    _local(entry.registered_at, at.timezone),
                    entry.reason if code is None else _(code),
                    entry.health_notes,
                )
            )
    return Table(_("Registrations"), tuple(map(_, REGISTRATION_COLUMNS)), rows)


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
    # Every season's days in one statement, as plain columns: a whole programme is hundreds
    # of seasons and hundreds of thousands of days.
    days: dict[int, list[Any]] = {at.season.id: [] for at in in_scope}
    for chunk in in_lists([at.season.id for at in in_scope]):
        for row in await uow.session.execute(
            select(
                RegistrationRow.season_id,
                AttendanceRow.registration_id,
                AttendanceRow.day,
                ChildRow.name,
                AttendanceRow.checked_in_at,
                AttendanceRow.checked_out_at,
            )
            .join(RegistrationRow, RegistrationRow.id == AttendanceRow.registration_id)
            .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
            .where(RegistrationRow.season_id.in_(chunk))
        ):
            days[row.season_id].append(row)
    rows: list[tuple[Cell, ...]] = []
    for at in in_scope:
        # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently.
        for day in sorted(days[at.season.id], key=lambda r: (r.day, r.name, r.registration_id)):
            out = day.checked_out_at
            rows.append(
                (
                    at.factory_code,
                    at.season.id,
                    day.day,
                    day.name,
                    _local(day.checked_in_at, at.timezone).time(),
                    None if out is None else _local(out, at.timezone).time(),
                )
            )
    return Table(_("Attendance"), tuple(map(_, ATTENDANCE_COLUMNS)), rows)


# The columns the workshop exports show, read as plain rows: a year of bookings is tens of
# thousands, and loading each as ORM objects took most of an export's time.
_BOOKING: Bundle[Any] = Bundle(
    "booking", BookingRow.id, BookingRow.status, BookingRow.code, BookingRow.checked_in_at
)
_WORKSHOP: Bundle[Any] = Bundle(
    "workshop", WorkshopRow.id, WorkshopRow.starts_at, WorkshopRow.ends_at, WorkshopRow.topic
)
_FEEDBACK: Bundle[Any] = Bundle(
    "feedback", FeedbackRow.booking_id, FeedbackRow.rating, FeedbackRow.comment
)


@dataclass(frozen=True, slots=True)
class _Booked:
    """A booking with what its rows show: workshop, factory, person and feedback."""

    booking: Row[Any]  # the columns of _BOOKING
    workshop: Row[Any]  # of _WORKSHOP
    factory_code: str
    timezone: str
    person_name: str
    feedback: Row[Any] | None  # of _FEEDBACK, when there is any

    def local(self, value: datetime) -> datetime:
        """The factory's wall-clock time of `value`."""
        return _local(value, self.timezone)


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
    uow: UnitOfWork, where: list[ColumnElement[bool]], *only: ColumnElement[bool]
) -> list[_Booked]:
    """The bookings of the workshops `where` picks, with `only` narrowing them further."""
    found = await uow.session.execute(
        select(
            _BOOKING,
            _WORKSHOP,
            FactoryRow.code,
            FactoryRow.timezone,
            PersonRow.display_name,
            _FEEDBACK,
        )
        .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
        .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
        .join(PersonRow, PersonRow.id == BookingRow.person_id)
        .outerjoin(FeedbackRow, FeedbackRow.booking_id == BookingRow.id)
        .where(*where, *only)
    )
    return [
        _Booked(
            booking,
            workshop,
            code,
            zone,
            name or "",
            None if feedback.booking_id is None else feedback,
        )
        for booking, workshop, code, zone, name, feedback in found
    ]


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
    # Cancelled bookings are noise in a roster, unless the person came all the same.
    found = await _booked(
        uow, where, BookingRow.status.in_(LIVE) | BookingRow.checked_in_at.is_not(None)
    )
    found.sort(
        key=lambda b: (
            b.workshop.starts_at,
            b.workshop.id,
            BOOKING_ORDER.get(b.booking.status, len(BOOKING_ORDER)),
            b.booking.id,
        )
    )
    rows: list[tuple[Cell, ...]] = []
    for b in found:
        checked_in, feedback = b.booking.checked_in_at, b.feedback
        status = BOOKING_STATUS_LABELS.get(b.booking.status)
        rows.append(
            (
                b.factory_code,
                b.workshop.id,
                b.local(b.workshop.starts_at).date(),
                b.local(b.workshop.starts_at).time(),
                b.local(b.workshop.ends_at).time(),
                b.workshop.topic,
                b.person_name,
                b.booking.status if status is None else _(status),
                b.booking.code,
                None if checked_in is None else b.local(checked_in),
                None if feedback is None else feedback.rating,
                None if feedback is None else feedback.comment or None,
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
    found = await _booked(uow, where, BookingRow.checked_in_at.is_not(None))
    # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently.
    found.sort(key=lambda b: (b.workshop.starts_at, b.workshop.id, b.person_name, b.booking.id))
    rows: list[tuple[Cell, ...]] = []
    for b in found:
        checked_in = b.booking.checked_in_at
        assert checked_in is not None  # the query takes only those checked in
        rows.append(
            (
                b.factory_code,
                b.workshop.id,
                b.local(b.workshop.starts_at).date(),
                b.workshop.topic,
                b.person_name,
                b.local(checked_in),
                None if b.feedback is None else b.feedback.rating,
            )
        )
    return Table(_("Workshop attendance"), tuple(map(_, WORKSHOP_ATTENDANCE_COLUMNS)), rows)


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


def to_csv(table: Table) -> bytes:
    """The table as CSV in UTF-8 with a byte order mark, which Excel needs to read Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_safe_text(label) for label in table.header])
    writer.writerows([_csv_text(value) for value in row] for row in table.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, str):
        # Line breaks as Excel writes them; XML would read a lone CR back as LF anyway.
        text = _safe_text(_NOT_XML.sub("", value))
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _number_format(value: Cell) -> str | None:
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return "yyyy-mm-dd hh:mm"
    if isinstance(value, date):
        return "yyyy-mm-dd"
    if isinstance(value, time):
        return "hh:mm"
    return None


def _width(value: Cell) -> int:
    """Roughly how many narrow characters the value takes; Chinese characters take two."""
    text = _csv_text(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in a sheet name, and names longer than 31.
    return _SHEET_TITLE_UNSAFE.sub(" ", title)[:31].strip() or "Sheet"


def to_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook: bold, frozen header; days and times as real cells."""
    return to_xlsx_sheets([table])


def to_xlsx_sheets(tables: Sequence[Table]) -> bytes:
    """The tables as one Excel workbook, a sheet each, in order."""
    workbook = Workbook()
    for index, table in enumerate(tables):
        _fill_sheet(workbook.worksheets[0] if index == 0 else workbook.create_sheet(), table)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fill_sheet(sheet: Worksheet, table: Table) -> None:
    sheet.title = _sheet_title(table.title)
    bold = Font(bold=True)
    for column, label in enumerate(table.header, start=1):
        sheet.cell(1, column, _xlsx_value(label)).font = bold
    for row_number, row in enumerate(table.rows, start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row_number, column, _xlsx_value(value))
            number_format = _number_format(value)
            if number_format is not None:
                cell.number_format = number_format
    for column, label in enumerate(table.header, start=1):
        widest = max([_width(label), *(_width(row[column - 1]) for row in table.rows)])
        sheet.column_dimensions[get_column_letter(column)].width = min(
            max(widest + 2, _MIN_WIDTH), _MAX_WIDTH
        )
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    sheet.auto_filter.ref = sheet.dimensions


def export_file(table: Table, fmt: Format, stem: str) -> ExportFile:
    """The table as a named CSV or XLSX file; `stem` is made safe for a file name."""
    safe_stem = _STEM_UNSAFE.sub("_", stem).strip("._") or "export"
    if fmt == "csv":
        return ExportFile(f"{safe_stem}.csv", to_csv(table), CSV_MIME)
    return ExportFile(f"{safe_stem}.xlsx", to_xlsx(table), XLSX_MIME)
