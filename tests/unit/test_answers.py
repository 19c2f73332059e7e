"""One parser per kind of typed answer: what each reads, in Chinese and English, and refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from ffs_bot.errors import InvalidInput
from ffs_bot.services.children import check_birth_month
from handlers import answers

TODAY = date(2026, 12, 8)  # a Tuesday
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ZONE = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("typed", "hour"),
    [("20", 20), ("20:00", 20), ("２０：００", 20), ("20点", 20), ("晚上9点", 21),
     ("下午2点", 14), ("早上7点", 7), ("中午12点", 12), ("九点", 9), ("8pm", 20),
     ("8 PM", 20), ("7am", 7), ("12pm", 12)],
)  # fmt: skip
def test_an_hour_is_read(typed: str, hour: int) -> None:
    assert answers.parse_hour(typed) == hour


@pytest.mark.parametrize("typed", ["", "evening", "20:30", "25", "8點半", "晚上", "-1"])
def test_what_is_not_an_hour_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="hour"):
        answers.parse_hour(typed)


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [("9:00-12:00", (9, 0), (12, 0)), ("14：00–17：00", (14, 0), (17, 0)),
     ("下午2点到5点", (14, 0), (17, 0)), ("上午9点至12点", (9, 0), (12, 0)),
     ("9点半到11点", (9, 30), (11, 0)), ("2-5pm", (14, 0), (17, 0)),
     ("9am to 12pm", (9, 0), (12, 0)), ("10-12pm", (10, 0), (12, 0))],
)  # fmt: skip
def test_a_time_range_is_read(typed: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    assert answers.parse_time_range(typed) == (time(*start), time(*end))


@pytest.mark.parametrize("typed", ["12:00-9:00", "9:00", "下午", "9:00-25:00", "morning"])
def test_what_is_not_a_time_range_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="times"):
        answers.parse_time_range(typed)


@pytest.mark.parametrize(
    ("typed", "ages"),
    [("3-12", (3, 12)), ("3到12岁", (3, 12)), ("3岁至12岁", (3, 12)), ("３～１２", (3, 12)),
     ("三到十二岁", (3, 12)), ("3 to 12", (3, 12)), ("ages 3-12", (3, 12)),
     ("3-12 years old", (3, 12))],
)  # fmt: skip
def test_an_age_range_is_read(typed: str, ages: tuple[int, int]) -> None:
    assert answers.parse_age_range(typed, 17) == ages


@pytest.mark.parametrize("typed", ["12-3", "3-18", "3", "three to twelve", "3-12-15"])
def test_what_is_not_an_age_range_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="ages"):
        answers.parse_age_range(typed, 17)


@pytest.mark.parametrize(
    ("typed", "count"),
    [("20", 20), ("20个", 20), ("20人", 20), ("20 个名额", 20), ("二十", 20), ("三十五人", 35),
     ("两百", 200), ("２０", 20), ("20 places", 20), ("20 people", 20)],
)  # fmt: skip
def test_a_count_is_read(typed: str, count: int) -> None:
    assert answers.parse_count(typed, 500) == count


@pytest.mark.parametrize("typed", ["0", "501", "twenty", "20.5", "-3", "", "20个20"])
def test_what_is_not_a_count_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="count"):
        answers.parse_count(typed, 500)


@pytest.mark.parametrize(
    ("typed", "day"),
    [("6/30", date(2027, 6, 30)), ("6月30日", date(2027, 6, 30)), ("6月30号", date(2027, 6, 30)),
     ("六月三十日", date(2027, 6, 30)), ("2027/6/30", date(2027, 6, 30)),
     ("2027年6月30日", date(2027, 6, 30)), ("27年6月30日", date(2027, 6, 30)),
     ("Jun 30", date(2027, 6, 30)), ("30 June 2027", date(2027, 6, 30)),
     ("June 30th", date(2027, 6, 30)), ("明天", date(2026, 12, 9)),
     ("tomorrow", date(2026, 12, 9)),
     # Without a year: a day of the last month is that day, anything earlier is next year's.
     ("12/7", date(2026, 12, 7)), ("11/10", date(2026, 11, 10)), ("1/5", date(2027, 1, 5)),
     ("11/1", date(2027, 11, 1))],
)  # fmt: skip
def test_a_day_is_read(typed: str, day: date) -> None:
    assert answers.parse_date(typed, TODAY) == day


def test_a_day_in_a_given_year_stays_in_it() -> None:
    assert answers.parse_date("6/30", TODAY, year=2026) == date(2026, 6, 30)


@pytest.mark.parametrize("typed", ["2/30", "13/1", "June", "next week", "6/30/2027 9:00"])
def test_what_is_not_a_day_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="day"):
        answers.parse_date(typed, TODAY)


SUMMER = (date(2027, 7, 10), date(2027, 8, 15))


@pytest.mark.parametrize(
    ("typed", "days"),
    [("7/10-8/15", SUMMER), ("7.10 - 8.15", SUMMER), ("7月10日到8月15日", SUMMER),
     ("7月10号至8月15号", SUMMER), ("Jul 10 - Aug 15", SUMMER), ("July 10 to August 15", SUMMER),
     ("10 Jul - 15 Aug", SUMMER), ("2027/7/10-2027/8/15", SUMMER),
     ("7月10日到15日", (date(2027, 7, 10), date(2027, 7, 15))),
     ("Jul 10-15", (date(2027, 7, 10), date(2027, 7, 15))),
     ("12/20-1/10", (date(2026, 12, 20), date(2027, 1, 10)))],
)  # fmt: skip
def test_a_date_range_is_read(typed: str, days: tuple[date, date]) -> None:
    assert answers.parse_date_range(typed, TODAY) == days


@pytest.mark.parametrize("typed", ["整个托管期", "Whole season", "全部", "whole"])
def test_the_words_for_the_whole_span_read_as_it(typed: str) -> None:
    whole = (date(2027, 7, 5), date(2027, 8, 20))
    found = answers.parse_date_range(
        typed, TODAY, whole=whole, whole_words=("整个托管期", "Whole season")
    )
    assert found == whole


@pytest.mark.parametrize("typed", ["8/15-7/10", "7/10", "7/10-8/32", "整个托管期", "summer"])
def test_what_is_not_a_date_range_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="days"):
        answers.parse_date_range(typed, TODAY, year=2027)


@pytest.mark.parametrize(
    ("typed", "month"),
    [("2018-03", (2018, 3)), ("2018-3", (2018, 3)), ("2018.3", (2018, 3)),
     ("2018/03", (2018, 3)), ("2020/3", (2020, 3)), ("2018年3月", (2018, 3)),
     ("20年3月", (2020, 3)), ("98年3月", (1998, 3)), ("２０１８年３月", (2018, 3)),
     ("201803", (2018, 3)), (" 2026-11 ", (2026, 11)), ("2018年3月5日", (2018, 3)),
     ("2018年3月出生", (2018, 3)), ("Mar 2018", (2018, 3)), ("March 2018", (2018, 3)),
     ("3/2018", (2018, 3))],
)  # fmt: skip
def test_a_month_is_read(typed: str, month: tuple[int, int]) -> None:
    assert answers.parse_month(typed, TODAY) == month


@pytest.mark.parametrize(
    "typed",
    ["2018-13", "2018-0", "2018", "last spring", "", "😀", "3月", "2021-02-30", "2021年2月30日"],
)
def test_what_is_not_a_month_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="month"):
        answers.parse_month(typed, TODAY)


@pytest.mark.parametrize(
    ("year", "month", "problem"),
    [(2026, 12, None), (2027, 1, "future"), (2008, 11, "too old"), (1990, 1, "too old")],
)
def test_a_birth_month_is_checked(year: int, month: int, problem: str | None) -> None:
    if problem is None:
        check_birth_month(year, month, TODAY)
    else:
        with pytest.raises(InvalidInput, match=problem):
            check_birth_month(year, month, TODAY)


@pytest.mark.parametrize(
    ("typed", "local"),
    [("12/9 18:00", (2026, 12, 9, 18)), ("12月9日晚上6点", (2026, 12, 9, 18)),
     ("12月9日 18：00", (2026, 12, 9, 18)), ("Dec 9 6pm", (2026, 12, 9, 18)),
     ("明天 8:00", (2026, 12, 9, 8)), ("1/5 9:00", (2027, 1, 5, 9)),
     ("2027年12月7日 18:00", (2027, 12, 7, 18)), ("12/8 11:00", (2026, 12, 8, 11))],
)  # fmt: skip
def test_a_moment_to_come_is_read(typed: str, local: tuple[int, int, int, int]) -> None:
    moment = answers.parse_moment(typed, NOW, ZONE)
    assert (moment.year, moment.month, moment.day, moment.hour) == local


@pytest.mark.parametrize(("typed", "problem"), [("12/7 18:00", "past"), ("12/8 9:00", "past"),
                                                ("12/9", "day"), ("soon", "day")])  # fmt: skip
def test_a_moment_gone_or_unread_is_refused_with_the_reason(typed: str, problem: str) -> None:
    # 12/7 typed on 12/8 is yesterday, not a year later.
    with pytest.raises(InvalidInput, match=problem):
        answers.parse_moment(typed, NOW, ZONE)


@pytest.mark.parametrize(
    ("typed", "hours"),
    [("7/14 9:00-12:00", (9, 12)), ("7月14日下午2点到5点", (14, 17)), ("Jul 14 2-5pm", (14, 17)),
     ("７月14日 14：00–17：00", (14, 17))],
)  # fmt: skip
def test_a_day_and_its_hours_are_read(typed: str, hours: tuple[int, int]) -> None:
    start, end = answers.parse_day_and_hours(typed, NOW, ZONE)
    assert (start.date(), start.hour, end.hour) == (date(2027, 7, 14), *hours)


def test_a_day_and_hours_gone_are_refused() -> None:
    with pytest.raises(InvalidInput, match="past"):
        answers.parse_day_and_hours("12/7 9:00-12:00", NOW, ZONE)
