"""`ffs-bot export` end to end: a real database (SQLite, and PostgreSQL when configured) in,
CSV and XLSX files out.

The command line runs in a worker thread: it starts its own event loop, and the database is
filled by the test's loop first.
"""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ffs_bot.i18n import Translator
from tests.conftest import Backend
from tests.e2e.test_cli import SETTING_NAMES, Result, assert_clear_failure, cli, usage_error
from tests.integration.test_exports import (
    HOSTILE_NOTES,
    Programme,
    WorkshopProgramme,
    programme,
    workshop_programme,
)


@pytest.fixture
def work(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory, and the command line pointed at the test database alone."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", backend.url)
    work = tmp_path / "out"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def export(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    return await asyncio.to_thread(cli, capsys, "export", *argv)


async def test_registrations_as_csv_open_in_excel_with_formulas_defused(
    backend: Backend, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = await programme(backend)
    path = work / "roster.csv"
    path.write_text("an older export")
    result = await export(
        capsys, "registrations", "--factory", "SZ01", "--format", "csv", "-o", str(path)
    )
    assert result == Result(0, f"Wrote 5 rows to {path}.\n", "")
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbfFactory,Season,")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert [row[4] for row in rows[1:]] == ["Bo", "Eve", "Zhang Wei", "An Na", "Chen"]
    assert {row[1] for row in rows[1:]} == {str(p.sz_season)}
    assert rows[2][14] == "'" + HOSTILE_NOTES
    assert rows[3][8] == "Li Mei; Zhang Lei"
    # Children's details: the file is its owner's alone, and no temporary file is left.
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert files_in(work) == [path.name]


async def test_attendance_as_xlsx_has_real_days_and_times(
    backend: Backend, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p: Programme = await programme(backend)
    result = await export(capsys, "attendance", "--format", "xlsx", "-o", "attendance.xlsx")
    assert result == Result(0, "Wrote 4 rows to attendance.xlsx.\n", "")
    sheet = load_workbook(work / "attendance.xlsx").worksheets[0]
    assert sheet.title == "Attendance"
    assert sheet.freeze_panes == "A2"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values == [
        ["Factory", "Season", "Day", "Child", "Checked in", "Checked out"],
        ["DG01", p.dg_season, datetime(2027, 7, 6), "Dong", time(9, 15), None],
        ["SZ01", p.sz_season, datetime(2027, 7, 6), "Zhang Wei", time(7, 59), None],
        ["SZ01", p.sz_season, datetime(2027, 7, 7), "An Na", time(9, 0), time(17, 45)],
        ["SZ01", p.sz_season, datetime(2027, 7, 7), "Zhang Wei", time(8, 30), None],
    ]


async def test_one_season_and_a_season_with_nothing_yet(
    backend: Backend, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = await programme(backend)
    one = await export(
        capsys, "attendance", "--season", str(p.dg_season), "--format", "csv", "-o", "dg.csv"
    )
    assert one.out == "Wrote 1 row to dg.csv.\n"
    empty = await export(
        capsys, "registrations", "--factory", "SZ02", "--format", "xlsx", "-o", "sz02.xlsx"
    )
    assert empty.out == "Wrote 0 rows to sz02.xlsx.\n"
    sheet = load_workbook(work / "sz02.xlsx").worksheets[0]
    assert sheet.max_row == 1  # the header alone


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--factory", "NOPE"], ["unknown factory code NOPE"]),
        (["--season", "9999"], ["season 9999"]),
        (["--factory", "DG01", "--season", "{sz}"], ["season {sz} at factory DG01"]),
    ],
)
async def test_what_does_not_exist_is_a_usage_error_and_writes_nothing(
    backend: Backend,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    words: list[str],
) -> None:
    p = await programme(backend)
    path = work / "roster.csv"
    path.write_text("an older export")
    argv = [option.format(sz=p.sz_season) for option in options]
    result = await export(capsys, "registrations", *argv, "--format", "csv", "-o", str(path))
    assert_clear_failure(result, 2, *(word.format(sz=p.sz_season) for word in words))
    assert result.out == ""
    assert path.read_text() == "an older export"
    assert files_in(work) == [path.name]


async def test_a_folder_that_does_not_exist_is_said_in_one_line(
    backend: Backend, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await programme(backend)
    result = await export(capsys, "attendance", "--format", "csv", "-o", "missing/a.csv")
    assert_clear_failure(result, 1, "missing")


@pytest.mark.parametrize(
    "argv",
    [
        ["registrations", "-o", "a.csv"],  # no --format
        ["registrations", "--format", "ods", "-o", "a.ods"],
        ["roster", "--format", "csv", "-o", "a.csv"],
        ["attendance", "--format", "csv"],  # no -o
        ["attendance", "--season", "two", "--format", "csv", "-o", "a.csv"],
    ],
)
def test_export_without_what_it_needs_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    result = usage_error(capsys, "export", *argv)
    assert result.code == 2
    assert "usage: ffs-bot export" in result.err


# --- workshops ----------------------------------------------------------------------------


async def workshops_to_come(
    backend: Backend, translators: dict[str, Translator]
) -> WorkshopProgramme:
    """The workshop programme two weeks from now: the command line reads the real clock."""
    start = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    return await workshop_programme(backend, translators, start + timedelta(days=14))


async def test_bookings_as_csv_list_seats_then_the_queue_with_formulas_defused(
    backend: Backend,
    translators: dict[str, Translator],
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = await workshops_to_come(backend, translators)
    result = await export(
        capsys, "bookings", "--factory", "sz01", "--format", "csv", "-o", "bookings.csv"
    )
    assert result == Result(0, "Wrote 5 rows to bookings.csv.\n", "")
    content = (work / "bookings.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbfFactory,Workshop,Day,Starts,Ends,Topic,Person,")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    # The old workshop is over a year ago; DG01's is another factory's.
    assert [(row[1], row[6], row[7]) for row in rows[1:]] == [
        (str(w.morning), "Zhang Lei", "Confirmed"),
        (str(w.morning), "", "Waiting list"),
        (str(w.morning), "Li Mei", "Cancelled"),
        (str(w.afternoon), "Li Mei", "Offered a place"),
        (str(w.afternoon), "", "Waiting list"),
    ]
    zhang = rows[1]
    assert zhang[2:5] == [w.local(0, 0).date().isoformat(), "09:00", "12:00"]
    assert zhang[8:] == [
        w.codes["morning:Zhang Lei"],
        w.local(0, 8, 55).strftime("%Y-%m-%d %H:%M"),
        "5",
        "'" + HOSTILE_NOTES,
    ]
    assert stat.S_IMODE((work / "bookings.csv").stat().st_mode) & 0o077 == 0


async def test_attendance_of_one_workshop_as_xlsx_has_real_days_and_times(
    backend: Backend,
    translators: dict[str, Translator],
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = await workshops_to_come(backend, translators)
    result = await export(
        capsys, "attendance", "--workshop", str(w.morning), "--format", "xlsx", "-o", "w.xlsx"
    )
    assert result == Result(0, "Wrote 2 rows to w.xlsx.\n", "")
    sheet = load_workbook(work / "w.xlsx").worksheets[0]
    assert sheet.title == "Workshop attendance"
    day = w.local(0, 0)
    topic = "远距离也能亲近孩子：视频通话怎么聊"
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["Factory", "Workshop", "Day", "Topic", "Person", "Checked in", "Rating"],
        ["SZ01", w.morning, day, topic, "Li Mei", w.local(0, 9, 10), 3],
        ["SZ01", w.morning, day, topic, "Zhang Lei", w.local(0, 8, 55), 5],
    ]


async def test_attendance_of_every_workshop_of_the_year_and_one_long_ago(
    backend: Backend,
    translators: dict[str, Translator],
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = await workshops_to_come(backend, translators)
    every = await export(capsys, "attendance", "--workshops", "--format", "csv", "-o", "a.csv")
    assert every.out == "Wrote 3 rows to a.csv.\n"
    rows = list(csv.reader(io.StringIO((work / "a.csv").read_text("utf-8-sig"), newline="")))
    assert rows[0] == ["Factory", "Workshop", "Day", "Topic", "Person", "Checked in", "Rating"]
    assert [(row[0], row[4]) for row in rows[1:]] == [
        ("SZ01", "Li Mei"),
        ("SZ01", "Zhang Lei"),
        ("DG01", "Dong"),
    ]
    old = await export(
        capsys, "attendance", "--workshop", str(w.old), "--format", "csv", "-o", "old.csv"
    )
    assert old.out == "Wrote 1 row to old.csv.\n"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["bookings", "--workshop", "9999"], ["workshop 9999"]),
        (["bookings", "--factory", "NOPE"], ["unknown factory code NOPE"]),
        (
            ["attendance", "--factory", "DG01", "--workshop", "{morning}"],
            ["workshop {morning} at factory DG01"],
        ),
    ],
)
async def test_a_workshop_that_does_not_exist_there_is_a_usage_error_and_writes_nothing(
    backend: Backend,
    translators: dict[str, Translator],
    work: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    words: list[str],
) -> None:
    w = await workshops_to_come(backend, translators)
    options = [option.format(morning=w.morning) for option in argv]
    result = await export(capsys, *options, "--format", "csv", "-o", "out.csv")
    assert_clear_failure(result, 2, *(word.format(morning=w.morning) for word in words))
    assert files_in(work) == []


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["attendance", "--season", "1", "--workshop", "2"], "not allowed with argument"),
        (["attendance", "--season", "1", "--workshops"], "not allowed with argument"),
        (["registrations", "--workshop", "2"], "--workshop and --workshops are not for them"),
        (["registrations", "--workshops"], "--workshop and --workshops are not for them"),
        (["bookings", "--season", "1"], "--season is not for them"),
        (["bookings", "--workshop", "two"], "is not an id"),
    ],
)
def test_seasons_and_workshops_together_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    result = usage_error(capsys, "export", *argv, "--format", "csv", "-o", "a.csv")
    assert result.code == 2
    assert "usage: ffs-bot export" in result.err
    assert words in result.err
