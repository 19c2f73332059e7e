"""Tables as Excel workbooks: bold, frozen header; days and times as real cells.

Written with openpyxl (through lxml) in write-only mode. The product reaches this module only
through `ffs_bot.spreadsheets.workbook`, which imports it when a workbook is asked for.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date, datetime, time
from operator import itemgetter

from openpyxl import Workbook
from openpyxl.cell import Cell as XlsxCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ffs_bot.i18n import display_width
from ffs_bot.spreadsheets import (
    BATCH,
    LINE_STARTS_LIKE_FORMULA,
    Cell,
    Table,
    bulk,
    by_column,
    csv_text,
    safe_text,
    text_passes,
)

__all__ = ["to_xlsx_sheets"]

# What XML 1.0 cannot hold (so neither can an XLSX file): most control characters, U+FFFE,
# U+FFFF and lone surrogates. openpyxl refuses only the control characters.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SHEET_TITLE_UNSAFE = re.compile(r"[\[\]:*?/\\]")
_MIN_WIDTH, _MAX_WIDTH = 8, 50


def _xlsx_text(text: str) -> str:
    safe = safe_text(_NOT_XML.sub("", text))
    # Line breaks as Excel writes them; XML would read a lone CR back as LF anyway.
    return safe.replace("\r\n", "\n").replace("\r", "\n")


def _xlsx_value(value: Cell) -> Cell:
    return _xlsx_text(value) if isinstance(value, str) else value


# What `_xlsx_value` would change in a column of text joined by line breaks.
_XLSX_TEXT_NEEDS_WORK = re.compile(
    f"{LINE_STARTS_LIKE_FORMULA.pattern}|\r|{_NOT_XML.pattern}", re.MULTILINE
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
    return display_width(csv_text(value))


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in a sheet name, and names longer than 31.
    return _SHEET_TITLE_UNSAFE.sub(" ", title)[:31].strip() or "Sheet"


def to_xlsx_sheets(tables: Sequence[Table]) -> bytes:
    """The tables as one Excel workbook, a sheet each, in order.

    Written in openpyxl's write-only mode: each row goes to the sheet's XML as it is
    appended, and no cell is kept, so a whole programme's rows are never held twice.
    """
    workbook = Workbook(write_only=True)
    with bulk():
        for table in tables:
            _write_sheet(workbook.create_sheet(_sheet_title(table.title)), table)
        buffer = io.BytesIO()
        workbook.save(buffer)
    return buffer.getvalue()


def _write_sheet(sheet: WriteOnlyWorksheet, table: Table) -> None:
    """Write the table on a write-only sheet; what comes before the rows is set first."""
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
    for start in range(0, len(rows), BATCH):
        for row in by_column(rows[start : start + BATCH], cells.column, cells.row):
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
        self._sheet = sheet

    def _dated(self, value: Cell, number_format: str) -> XlsxCell:
        cell = WriteOnlyCell(self._sheet)
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
            if text_passes(column, _XLSX_TEXT_NEEDS_WORK):
                return column
        elif len(kinds) == 1:
            number_format = _XLSX_FORMATS.get(kinds.pop())
            if number_format is not None:
                return [
                    None if value is None else self._dated(value, number_format)
                    for value in column
                ]
        return self.row(column)
