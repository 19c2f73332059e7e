"""Tables, and the files people open them in: CSV here, Excel workbooks in `ffs_bot.xlsx`.

A table is a title, a header and rows of plain cells, whatever it holds (a roster, a report,
a person's own data). Every text cell a worker could have typed is made safe for spreadsheets:
one that starts like a formula gets a leading apostrophe, so Excel shows it instead of running
it. openpyxl, which writes workbooks, is loaded with the first workbook: 60 ms and 15 MiB that
a process answering chats does not pay at start.
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from operator import itemgetter, methodcaller
from typing import Any, Literal, cast

from ffs_bot.i18n import Translator

__all__ = [
    "CSV_MIME",
    "XLSX_MIME",
    "Cell",
    "ExportFile",
    "Format",
    "Table",
    "bulk",
    "export_file",
    "export_table",
    "table_gettext",
    "to_csv",
    "workbook",
]

# A naive datetime or time in a table is the factory's wall-clock time.
Cell = str | int | date | datetime | time | None
Format = Literal["csv", "xlsx"]
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# OWASP's list: what Excel, LibreOffice and Google Sheets take as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_STEM_UNSAFE = re.compile(r"[^\w.-]+")


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


@contextmanager
def bulk() -> Iterator[None]:
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


def table_gettext(translator: Translator | None) -> Callable[[str], str]:
    """How a table's words are translated: English msgids as they are, with no translator."""
    if translator is None:
        # The operator at the command line reads the English msgids as they are.
        return lambda msgid: msgid
    return translator._


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as it is, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(value: Cell) -> str:
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
    return safe_text(value)


# How CSV shows a cell, by its exact type, for the types the csv module would write
# otherwise; None, int and date it writes itself as `csv_text` would ("", str(), ISO).
# Any other type (a subclass of str, say) goes through `csv_text`.
_CSV_AS_IS = frozenset({type(None), int, date})
_CSV_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: safe_text,
    datetime: methodcaller("isoformat", " ", "minutes"),
    time: methodcaller("isoformat", "minutes"),
}
# A formula start at the start of a line: the cells of a column joined by line breaks.
LINE_STARTS_LIKE_FORMULA = re.compile("^[=+@\t\r-]", re.MULTILINE)


def text_passes(column: Sequence[Cell], needs_work: re.Pattern[str]) -> bool:
    """Whether no cell of a column of text (and None) has what `needs_work` finds.

    Joined by line breaks, a cell that starts like a formula starts a line. A line break
    inside a cell may start one too: then the column goes cell by cell, to be sure.
    """
    return not needs_work.search("\n".join(filter(None, cast("Sequence[str | None]", column))))


def _csv_cells(cells: Sequence[Cell]) -> Sequence[Cell]:
    """The cells as CSV writes them."""
    return [
        cell if type(cell) in _CSV_AS_IS else _CSV_BY_TYPE.get(type(cell), csv_text)(cell)
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
        if text_passes(column, LINE_STARTS_LIKE_FORMULA):
            return column
    elif len(types) == 1:  # one type, and no None
        convert = _CSV_BY_TYPE.get(kinds.pop())
        if convert is not None:
            return list(map(convert, column))
    return _csv_cells(column)


# Rows converted and written at a time: small enough to stay in the processor's caches.
BATCH = 4096


def by_column(
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
    writer.writerow([safe_text(label) for label in table.header])
    with bulk():
        rows = table.rows
        for start in range(0, len(rows), BATCH):
            writer.writerows(by_column(rows[start : start + BATCH], _csv_column, _csv_cells))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def workbook(tables: Sequence[Table]) -> bytes:
    """The tables as one Excel workbook, a sheet each, in order (`ffs_bot.xlsx` writes it)."""
    from ffs_bot.xlsx import to_xlsx_sheets

    return to_xlsx_sheets(tables)


def export_file(table: Table, fmt: Format, stem: str) -> ExportFile:
    """The table as a named CSV or XLSX file; `stem` is made safe for a file name."""
    safe_stem = _STEM_UNSAFE.sub("_", stem).strip("._") or "export"
    if fmt == "csv":
        return ExportFile(f"{safe_stem}.csv", to_csv(table), CSV_MIME)
    return ExportFile(f"{safe_stem}.xlsx", workbook([table]), XLSX_MIME)


async def export_table(
    build: Callable[[], Awaitable[Table]], fmt: Format, stem: str
) -> tuple[ExportFile, int]:
    """Build a table and make it a named file, as `export_file`; also its number of rows.

    The cyclic garbage collector is held off until the table is gone: its million objects
    are freed as they were made, by reference counting, and never walked at all.
    """
    with bulk():
        table = await build()
        rows = len(table.rows)
        exported = export_file(table, fmt, stem)
        del table
    return exported, rows
