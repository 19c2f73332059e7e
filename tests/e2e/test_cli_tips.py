"""`ffs-bot tips import` and `ffs-bot tips stats` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import assert_clear_failure, cli
from tests.e2e.test_cli import data_dir as data_dir  # a fresh data directory for each test
from tests.integration.test_tips import LIBRARY

BROKEN = """
- id: fine-one
  topic: safety
  ages: 0-35
  zh: 游泳要有大人看着。
  en: Swimming only with an adult watching.
- id: broken
  topic: cooking
  ages: 0-35
  zh: 好
  en: Good
"""


def test_import_reports_bad_tips_by_line_keeps_good_ones_and_updates_by_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    library = tmp_path / "tips.yaml"
    library.write_text(LIBRARY, encoding="utf-8")
    first = cli(capsys, "tips", "import", str(library))
    assert (first.code, first.out) == (0, "Imported 8 tips (8 new, 0 updated); 0 refused.\n")
    library.write_text(BROKEN, encoding="utf-8")
    second = cli(capsys, "tips", "import", str(library))
    assert second.code == 1
    assert second.out == "Imported 1 tips (1 new, 0 updated); 1 refused.\n"
    assert f"{library}:7: tip broken: topic must be one of" in second.err
    third = cli(capsys, "tips", "import", str(library))
    assert "(0 new, 1 updated)" in third.out
    stats = cli(capsys, "tips", "stats", "--json")
    data = json.loads(stats.out)
    assert len(data["tips"]) == 9
    assert {t["id"]: t["sent"] for t in data["topics"]}["safety"] == 0
    table = cli(capsys, "tips", "stats")
    assert table.code == 0 and "parent-wellbeing" in table.out and "  fine-one" in table.out


@pytest.mark.parametrize("content", [b"{not: [yaml", b"a string", b"\xff\xfe"])
def test_a_file_that_is_not_a_tip_library_is_refused_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    library = tmp_path / "tips.yaml"
    library.write_bytes(content)
    assert_clear_failure(cli(capsys, "tips", "import", str(library)), 1, "cannot read")
    assert_clear_failure(cli(capsys, "tips", "import", str(tmp_path / "missing.yaml")), 1)
