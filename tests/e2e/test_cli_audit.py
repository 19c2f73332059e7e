"""`ffs-bot staff remove` and `ffs-bot audit`: role changes and exports leave a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import assert_clear_failure, cli, usage_error
from tests.e2e.test_cli import data_dir as data_dir  # a fresh data directory for each test

DEMO_FACTORIES = Path(__file__).parents[2] / "ffs_bot" / "demo" / "factories.csv"


def test_staff_remove_and_the_audit_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli(capsys, "factory", "import", str(DEMO_FACTORIES)).code == 0
    add = ("staff", "add", "--channel", "telegram", "--user-id", "42", "--role", "coordinator")
    assert cli(capsys, *add, "--factory", "SZ01", "--factory", "DG01").code == 0
    remove = ("staff", "remove", "--channel", "telegram", "--user-id", "42")
    gone = cli(capsys, *remove, "--role", "coordinator", "--factory", "DG01")
    assert (gone.code, gone.out) == (0, "Removed 1 coordinator role.\n")
    listed = cli(capsys, "staff", "list")
    assert "SZ01" in listed.out and "DG01" not in listed.out
    assert_clear_failure(cli(capsys, *remove, "--role", "admin", "--factory", "XX99"), 2)
    assert_clear_failure(
        cli(
            capsys, "staff", "remove", "--channel", "telegram", "--user-id", "7", "--role", "admin"
        ),
        2,
    )
    out = tmp_path / "regs.csv"
    assert cli(capsys, "export", "registrations", "--format", "csv", "-o", str(out)).code == 0
    log = cli(capsys, "audit").out.splitlines()
    actions = [line.split()[3] for line in log]
    assert actions[1:] == ["staff.grant", "staff.grant", "staff.revoke", "export.cli"]
    assert cli(capsys, "audit", "--since", "2999-01-01").out == ""
    assert_clear_failure(cli(capsys, "audit", "--since", "yesterday"), 2, "YYYY-MM-DD")
    assert usage_error(capsys, "staff", "remove", "--channel", "telegram").code == 2
