"""Factories: import from CSV, list, and find by code or part of a name."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, bindparam, func, or_, select

from ffs_bot.db.sql import table_of
from ffs_bot.db.tables import FactoryRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import InvalidInput
from ffs_bot.model import Factory
from ffs_bot.services.audit import record_event

__all__ = [
    "CSV_HEADER",
    "FactoryInput",
    "ImportReport",
    "RowError",
    "count_factories",
    "get_factory",
    "get_factory_by_code",
    "import_factories",
    "list_factories",
    "normalise_code",
    "parse_factory_csv",
    "search_factories",
]

CSV_HEADER = ("code", "name_zh", "name_en", "city", "timezone")
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}")
MAX_NAME = 100
MAX_CITY = 60


@dataclass(frozen=True, slots=True)
class FactoryInput:
    """A validated factory row, ready to store."""

    code: str
    name_zh: str
    name_en: str
    city: str
    timezone: str


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of an import file was not taken."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: rows created, rows updated, and lines refused."""

    created: int
    updated: int
    errors: tuple[RowError, ...]


def normalise_code(text: str) -> str:
    """Fold full-width letters and case, as typed on a Chinese phone keyboard."""
    return unicodedata.normalize("NFKC", text).strip().upper()


# Looked up on the per-message path (a start link, the privacy notice): Core reads, no ORM
# rows, built once.
_FACTORY = table_of(FactoryRow)
_FACTORY_COLUMNS = (
    _FACTORY.c.id,
    _FACTORY.c.code,
    _FACTORY.c.name_zh,
    _FACTORY.c.name_en,
    _FACTORY.c.city,
    _FACTORY.c.timezone,
)
_BY_ID = select(*_FACTORY_COLUMNS).where(_FACTORY.c.id == bindparam("factory_id"))
_BY_CODE = select(*_FACTORY_COLUMNS).where(_FACTORY.c.code == bindparam("code"))


def _to_factory(row: FactoryRow | Row[*tuple[Any, ...]]) -> Factory:
    return Factory(
        id=row.id,
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        city=row.city,
        timezone=row.timezone,
    )


def _validate_row(values: dict[str, str], default_timezone: str) -> FactoryInput:
    code = normalise_code(values.get("code") or "")
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(f"code {code!r} must be 1-16 letters, digits or '-'")
    name_zh = (values.get("name_zh") or "").strip()
    name_en = (values.get("name_en") or "").strip()
    city = (values.get("city") or "").strip()
    for field, value in (("name_zh", name_zh), ("name_en", name_en)):
        if not value:
            raise InvalidInput(f"{field} is empty")
        if len(value) > MAX_NAME:
            raise InvalidInput(f"{field} is longer than {MAX_NAME} characters")
    if len(city) > MAX_CITY:
        raise InvalidInput(f"city is longer than {MAX_CITY} characters")
    timezone = (values.get("timezone") or "").strip() or default_timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {timezone!r}") from None
    return FactoryInput(code, name_zh, name_en, city, timezone)


def parse_factory_csv(
    text: str, default_timezone: str
) -> tuple[list[FactoryInput], list[RowError]]:
    """Parse a factory CSV; return the good rows and, by line number, why others failed.

    Raises:
        InvalidInput: the header is not `code,name_zh,name_en,city,timezone`.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
        raise InvalidInput("the first line must be: " + ",".join(CSV_HEADER))
    good: list[FactoryInput] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(CSV_HEADER):
            errors.append(RowError(line, f"expected {len(CSV_HEADER)} columns, got {len(cells)}"))
            continue
        try:
            factory = _validate_row(dict(zip(CSV_HEADER, cells, strict=True)), default_timezone)
        except InvalidInput as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if factory.code in seen:
            errors.append(RowError(line, f"code {factory.code} repeats line {seen[factory.code]}"))
            continue
        seen[factory.code] = line
        good.append(factory)
    return good, errors


async def import_factories(
    uow: UnitOfWork, factories: list[FactoryInput], errors: list[RowError] | None = None
) -> ImportReport:
    """Create new factories and update existing ones (matched by code)."""
    codes = [f.code for f in factories]
    existing = {
        row.code: row
        for row in await uow.session.scalars(select(FactoryRow).where(FactoryRow.code.in_(codes)))
    }
    created = updated = 0
    for factory in factories:
        row = existing.get(factory.code)
        if row is None:
            uow.session.add(
                FactoryRow(
                    code=factory.code,
                    name_zh=factory.name_zh,
                    name_en=factory.name_en,
                    city=factory.city,
                    timezone=factory.timezone,
                )
            )
            created += 1
        else:
            row.name_zh, row.name_en = factory.name_zh, factory.name_en
            row.city, row.timezone = factory.city, factory.timezone
            updated += 1
    await record_event(
        uow, "factory.import", subject_type="factory", created=created, updated=updated
    )
    return ImportReport(created, updated, tuple(errors or ()))


async def list_factories(uow: UnitOfWork) -> list[Factory]:
    """Return every factory, ordered by code."""
    rows = await uow.session.scalars(select(FactoryRow).order_by(FactoryRow.code))
    return [_to_factory(row) for row in rows]


async def count_factories(uow: UnitOfWork) -> int:
    """Return how many factories there are."""
    return int(await uow.session.scalar(select(func.count()).select_from(FactoryRow)) or 0)


async def get_factory(uow: UnitOfWork, factory_id: int) -> Factory | None:
    """Return the factory with this id, if any."""
    row = (await uow.session.execute(_BY_ID, {"factory_id": factory_id})).first()
    return _to_factory(row) if row else None


async def get_factory_by_code(uow: UnitOfWork, code: str) -> Factory | None:
    """Return the factory with this code (as typed: case and width do not matter)."""
    row = (await uow.session.execute(_BY_CODE, {"code": normalise_code(code)})).first()
    return _to_factory(row) if row else None


async def search_factories(uow: UnitOfWork, query: str, limit: int) -> tuple[list[Factory], int]:
    """Find factories whose code, name or city contains `query`: up to `limit`, and the count.

    The query's `%` and `_` match themselves, not any text.
    """
    needle = unicodedata.normalize("NFKC", query).strip().lower()
    if not needle:
        return [], 0
    condition = or_(
        *(
            func.lower(column).contains(needle, autoescape=True)
            for column in (
                FactoryRow.code,
                FactoryRow.name_zh,
                FactoryRow.name_en,
                FactoryRow.city,
            )
        )
    )
    total = int(
        await uow.session.scalar(select(func.count()).select_from(FactoryRow).where(condition))
        or 0
    )
    rows = await uow.session.scalars(
        select(FactoryRow).where(condition).order_by(FactoryRow.code).limit(limit)
    )
    return [_to_factory(row) for row in rows], total
