"""Domain values: a text written in two languages, each reader shown theirs."""

from __future__ import annotations

import pytest

from ffs_bot.model import Bilingual

BUILDING = "3号楼2楼，食堂旁边"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        (f"{BUILDING} / Building 3, 2nd floor", Bilingual(BUILDING, "Building 3, 2nd floor")),
        (f"  {BUILDING}  /  Building 3 ", Bilingual(BUILDING, "Building 3")),
        ("礼堂 / Hall / 2nd floor", Bilingual("礼堂 / Hall", "2nd floor")),
        # Not "中文 / English": kept whole, shown to readers of both languages.
        (BUILDING, Bilingual(BUILDING)),
        ("礼堂 / 二楼", Bilingual("礼堂 / 二楼")),
        ("Room 5 / Hall B", Bilingual("Room 5 / Hall B")),
        ("礼堂 / ", Bilingual("礼堂 /")),
        ("礼堂/Hall", Bilingual("礼堂/Hall")),
        ("", Bilingual()),
    ],
)
def test_a_place_typed_in_one_line_is_split_at_its_english(typed: str, read: Bilingual) -> None:
    assert Bilingual.split(typed) == read


def test_each_reader_gets_their_language_and_the_other_when_theirs_is_empty() -> None:
    both = Bilingual("礼堂", "Hall")
    assert (both.pick("zh_Hans"), both.pick("en")) == ("礼堂", "Hall")
    assert Bilingual("礼堂").pick("en") == "礼堂"
    assert Bilingual(en="Hall").pick("zh_Hans") == "Hall"
    assert not Bilingual() and Bilingual().pick("en") == ""
