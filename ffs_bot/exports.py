"""Rosters and attendance as tables, and those tables as CSV or XLSX files.

The tables are read through the season services, so a coordinator exports only their own
factories; the operator at the command line (no acting person) may export every factory.
Every text cell a worker could have typed is made safe for spreadsheets: one that starts like
a formula gets a leading apostrophe, so Excel shows it instead of running it.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from ffs_bot.db.tables import AttendanceRow, ChildRow, FactoryRow, RegistrationRow, SeasonRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.i18n import N_, Translator
from ffs_bot.model import Gender, age_in_months
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.season_admin import registrations, season_for_staff, seasons_for_staff
from ffs_bot.services.seasons import (
    OFFER_DECLINED,
    OFFER_EXPIRED,
    RegistrationStatus,
    Season,
    to_season,
)
from ffs_bot.services.staff import require_factory, staff_scope

__all__ = [
    "CSV_MIME",
    "XLSX_MIME",
    "Cell",
    "ExportFile",
    "Format",
    "Table",
    "attendance_table",
    "export_file",
    "registrations_table",
    "to_csv",
    "to_xlsx",
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
    for at in await _seasons(uow, actor_person_id, factory_code, season_id):
        season = at.season
        start = season.starts_on
        for entry in await registrations(uow, actor_person_id, season.id):
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
    rows: list[tuple[Cell, ...]] = []
    for at in await _seasons(uow, actor_person_id, factory_code, season_id):
        found = await uow.session.execute(
            select(AttendanceRow, ChildRow.name)
            .join(RegistrationRow, RegistrationRow.id == AttendanceRow.registration_id)
            .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
            .where(RegistrationRow.season_id == at.season.id)
        )
        # Sorted here, not in SQL: SQLite and PostgreSQL collate names differently.
        for attendance, name in sorted(
            found, key=lambda pair: (pair[0].day, pair[1], pair[0].registration_id)
        ):
            out = attendance.checked_out_at
            rows.append(
                (
                    at.factory_code,
                    at.season.id,
                    attendance.day,
                    name,
                    _local(attendance.checked_in_at, at.timezone).time(),
                    None if out is None else _local(out, at.timezone).time(),
                )
            )
    return Table(_("Attendance"), tuple(map(_, ATTENDANCE_COLUMNS)), rows)


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
    workbook = Workbook()
    sheet = workbook.worksheets[0]
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
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_file(table: Table, fmt: Format, stem: str) -> ExportFile:
    """The table as a named CSV or XLSX file; `stem` is made safe for a file name."""
    safe_stem = _STEM_UNSAFE.sub("_", stem).strip("._") or "export"
    if fmt == "csv":
        return ExportFile(f"{safe_stem}.csv", to_csv(table), CSV_MIME)
    return ExportFile(f"{safe_stem}.xlsx", to_xlsx(table), XLSX_MIME)
