"""Reading the tip library: good entries kept, bad ones reported by id and line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ffs_bot.services.tips import Frequency, next_slot
from ffs_bot.tips import TOPICS, parse_library, starter_library

LIBRARY = """\
- id: call-01
  topic: keeping-close
  ages: 36-71
  zh: 今晚视频时，问孩子今天最开心的一件事。
  en: On tonight's video call, ask about the happiest moment of the day.
  follow_up:
    zh: 孩子说了什么？
    en: What did your child say?
- id: BAD ID
  topic: keeping-close
  ages: 0-12
  zh: 好
  en: Good
- id: no-topic
  topic: gardening
  ages: 0-12
  zh: 好
  en: Good
- id: wrong-ages
  topic: safety
  ages: 12-6
  zh: 好
  en: Good
- id: too-long
  topic: safety
  ages: 0-12
  zh: "%s"
  en: Good
- id: no-english
  topic: safety
  ages: 0-12
  zh: 好
- id: me-01
  topic: parent-wellbeing
  ages: parent
  zh: 今天给自己留十分钟，慢慢喝一杯水。
  en: Give yourself ten quiet minutes today.
- id: call-01
  topic: keeping-close
  ages: 0-12
  zh: 重复
  en: Again
""" % ("字" * 301)


def test_good_entries_are_kept_and_bad_ones_reported_with_their_line() -> None:
    good, errors = parse_library(LIBRARY)
    assert [entry.id for entry in good] == ["call-01", "me-01"]
    assert good[0].follow_up_en == "What did your child say?"
    assert good[1].for_parent and good[1].min_months is None
    assert [(e.line, e.tip_id) for e in errors] == [
        (9, "BAD ID"),
        (14, "no-topic"),
        (19, "wrong-ages"),
        (24, "too-long"),
        (29, "no-english"),
        (38, "call-01"),
    ]
    assert "301 characters" in errors[3].problem


@pytest.mark.parametrize("text", ["{a: [", "just a string", "a: 1"])
def test_a_file_that_is_not_a_list_of_tips_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_library(text)


def test_next_slot_is_the_chosen_hour_on_the_frequencys_days() -> None:
    zone = "Asia/Shanghai"
    monday_noon = datetime(2027, 7, 12, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shenzhen
    assert next_slot(monday_noon, Frequency.DAILY, 20, zone) == datetime(
        2027, 7, 12, 12, 0, tzinfo=UTC
    )
    assert next_slot(monday_noon, Frequency.DAILY, 8, zone) == datetime(
        2027, 7, 13, 0, 0, tzinfo=UTC
    )
    assert next_slot(monday_noon, Frequency.TWICE_WEEKLY, 8, zone) == datetime(
        2027,
        7,
        14,
        0,
        0,
        tzinfo=UTC,  # Wednesday
    )
    assert next_slot(monday_noon, Frequency.WEEKLY, 8, zone) == datetime(
        2027,
        7,
        18,
        0,
        0,
        tzinfo=UTC,  # Sunday
    )


def test_the_starter_library_has_enough_short_tips_on_every_topic_and_age() -> None:
    tips, errors = parse_library(starter_library())
    assert errors == []
    assert len(tips) >= 60
    assert {tip.topic for tip in tips} == set(TOPICS)
    assert all(len(tip.text_zh) <= 300 and tip.text_en for tip in tips)
    for low, high in ((0, 35), (36, 71), (72, 143), (144, 216)):
        assert any(
            tip.min_months is not None and tip.min_months <= high and tip.max_months >= low
            for tip in tips
            if tip.topic == "keeping-close"
        ), (low, high)
    assert sum(tip.for_parent for tip in tips) >= 8
