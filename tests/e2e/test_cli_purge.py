"""`ffs-bot purge [--dry-run]`: children past retention are erased, the report stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import cli
from tests.e2e.test_cli import data_dir as data_dir  # a fresh data directory for each test
from tests.e2e.test_cli_report import _seed


def test_purge_dry_run_then_for_real(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert cli(capsys, "db", "upgrade").code == 0
    _seed(data_dir)  # the report tests' programme: seasons in 2017, 2018 and 2019
    report = cli(capsys, "report", "--year", "2018", "--json").out

    dry = cli(capsys, "purge", "--dry-run")
    assert dry.code == 0 and dry.out.startswith("Would erase 7 children"), dry.out
    assert cli(capsys, "report", "--year", "2018", "--json").out == report
    assert "privacy.purge" not in cli(capsys, "audit").out

    done = cli(capsys, "purge")
    assert done.code == 0 and done.out.startswith("Erased 7 children"), done.out
    assert "90 days ago" in done.out
    assert cli(capsys, "report", "--year", "2018", "--json").out == report
    assert "privacy.purge" in cli(capsys, "audit").out
    assert cli(capsys, "purge").out.startswith("Erased 0 children")


def test_the_retention_days_come_from_the_settings(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(capsys, "db", "upgrade").code == 0
    monkeypatch.setenv("FFS_RETENTION_DAYS", "36500")
    assert cli(capsys, "purge", "--dry-run").code == 2  # more than ten years: refused
    monkeypatch.setenv("FFS_RETENTION_DAYS", "3650")
    out = cli(capsys, "purge", "--dry-run").out
    assert out.startswith("Would erase 0 children") and "3650 days ago" in out
