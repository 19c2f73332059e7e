"""Reading a child's birth month as parents type it."""

from __future__ import annotations

from datetime import date

import pytest

from ffs_bot.errors import InvalidInput
from ffs_bot.services.children import parse_birth_month

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2018-03", (2018, 3)),
        ("2018-3", (2018, 3)),
        ("2018.3", (2018, 3)),
        ("2018/03", (2018, 3)),
        ("2018年3月", (2018, 3)),
        ("２０１８年３月", (2018, 3)),
        ("201803", (2018, 3)),
        (" 2026-11 ", (2026, 11)),
        ("2008-11", (2008, 11)),
    ],
)
def test_the_ways_parents_write_a_month_are_read(typed: str, expected: tuple[int, int]) -> None:
    assert parse_birth_month(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("2026-12", "future"),
        ("2031年1月", "future"),
        ("2008-10", "too old"),
        ("1990-01", "too old"),
        ("2018-13", "format"),
        ("2018-0", "format"),
        ("2018", "format"),
        ("03-2018", "format"),
        ("2018-3-5", "format"),
        ("last spring", "format"),
        ("", "format"),
        ("😀", "format"),
    ],
)
def test_months_that_cannot_be_a_childs_birth_are_refused(typed: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_birth_month(typed, TODAY)
