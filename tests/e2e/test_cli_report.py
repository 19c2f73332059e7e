"""`ffs-bot report` on the command line: tables, JSON, a year, a factory."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.uow import Database
from tests.e2e.test_cli import assert_clear_failure, cli
from tests.e2e.test_cli import data_dir as data_dir  # a fresh data directory for each test
from tests.integration.test_demo import ANNOUNCED
from tests.integration.test_reports import programme


def _seed(data: Path) -> None:
    """The small programme of the report tests, in the command line's own database."""

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{data / 'ffs.db'}")
        try:
            async with Database(create_session_factory(engine)).uow() as uow:
                await programme(uow)
                await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(seed())


@pytest.fixture
def seeded(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert cli(capsys, "db", "upgrade").code == 0
    _seed(data_dir)


@pytest.mark.usefixtures("seeded")
def test_report_prints_the_years_figures_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "report", "--year", "2018", "--json")
    assert (result.code, result.err) == (0, "")
    data = json.loads(result.out)
    assert {k: data[k] for k in ("factories", "factories_new", "factories_returning")} == {
        "factories": 3,
        "factories_new": 2,
        "factories_returning": 1,
    }
    assert data["sponsors"] == {"LEGO": ["BB01", "CC01"], "Target": ["BB01"]}
    assert (data["children_confirmed"], data["parents"]) == (5, 5)
    # The workshop still to come on the tests' day has taken place by now.
    assert (data["workshops_held"], data["workshop_attendees"]) == (3, 2)
    assert [f["code"] for f in data["by_factory"]] == ["AA01", "BB01", "CC01", "EE01"]
    one = json.loads(cli(capsys, "report", "--year", "2018", "--factory", "bb01", "--json").out)
    assert (one["factory"], one["factories"], one["children_confirmed"]) == ("BB01", 1, 2)


@pytest.mark.usefixtures("seeded")
def test_report_prints_readable_tables(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "report", "--year", "2018")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "Programme report 2018, all factories"
    assert any(re.fullmatch(r"Children confirmed +5", line) for line in lines)
    assert any(re.fullmatch(r"Average workshop rating +4\.5", line) for line in lines)
    assert "LEGO     BB01, CC01" in lines
    # Chinese characters take two columns each, so what follows names of different lengths
    # lines up on a terminal.
    rows = [line for line in lines if line.startswith(("AA01", "CC01"))]
    assert "深圳龙岗欢乐玩具厂" in rows[0] and "河源新港玩具厂" in rows[1]
    assert len({_columns(line[: line.index(" 深圳 ")]) for line in rows}) == 1


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_report_defaults_to_this_year_and_refuses_an_unknown_factory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = cli(capsys, "report", "--json")
    assert empty.code == 0
    assert json.loads(empty.out)["factories"] == 0
    assert_clear_failure(cli(capsys, "report", "--factory", "ZZ99"), 2, "ZZ99")


@pytest.mark.usefixtures("seeded")
def test_report_also_writes_the_chart_and_the_workbook(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart, book = tmp_path / "chart.png", tmp_path / "report.xlsx"
    result = cli(
        capsys, "report", "--year", "2018", "--json", "--chart", str(chart), "--xlsx", str(book)
    )
    assert result.code == 0
    assert json.loads(result.out)["children_confirmed"] == 5
    assert result.err == f"Wrote {book}.\nWrote {chart}.\n"
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert load_workbook(book).sheetnames == ["Summary", "Factories", "Sponsors"]


@pytest.mark.usefixtures("seeded", "no_cjk_font")
def test_a_workbook_needs_no_font_and_a_chart_without_one_says_what_to_install(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart, book = tmp_path / "chart.png", tmp_path / "report.xlsx"
    result = cli(capsys, "report", "--year", "2018", "--xlsx", str(book))
    assert (result.code, result.err) == (0, f"Wrote {book}.\n")
    assert load_workbook(book).sheetnames == ["Summary", "Factories", "Sponsors"]
    book.unlink()
    result = cli(capsys, "report", "--year", "2018", "--xlsx", str(book), "--chart", str(chart))
    assert result.code == 1
    assert result.err.startswith(f"Wrote {book}.\nffs-bot: report charts need a font")
    assert "apt-get install fonts-wqy-microhei" in result.err
    assert book.exists() and not chart.exists()


def test_the_demo_reproduces_the_2018_programme(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert cli(capsys, "demo").code == 0
    result = cli(capsys, "report", "--year", "2018", "--json")
    assert (result.code, result.err) == (0, "")
    data = json.loads(result.out)
    assert {key: data[key] for key in ANNOUNCED} == ANNOUNCED
