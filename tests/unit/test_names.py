"""What a person may be called."""

from __future__ import annotations

import pytest

from ffs_bot.errors import InvalidInput
from ffs_bot.services.people import clean_display_name


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("王姐", "王姐"),
        ("  Ah   Ming ", "Ah Ming"),
        ("王·小明", "王·小明"),
        ("Mary-Jane O'Neil", "Mary-Jane O'Neil"),
        ("Ｌｉ", "Li"),
        ("阿明2号", "阿明2号"),
    ],
)
def test_names_people_use_are_accepted_and_tidied(typed: str, stored: str) -> None:
    assert clean_display_name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "😀😀",
        "12345",
        "<script>",
        "a" * 31,
        "Robert'); DROP TABLE person;--",
        "\u202eabc",
    ],
)
def test_names_without_letters_or_with_markup_are_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        clean_display_name(typed)
