"""Reading typed answers: one parser per kind (hour, time range, ages, count, day, days, month).

Each prompt that asks for one of these kinds reads it here, so what works at one prompt works
at every prompt of its kind, in Chinese and in English: `晚上9点` and `9pm`, `下午2点到5点`
and `2-5pm`, `3到12岁`, `20个`, `7月10日到8月15日` and `Jul 10 - Aug 15`, `20年3月` and
`2020/3`. Width is folded (full-width digits and `：`) only to read the answer; nothing read
here is stored as typed.

A parser raises `InvalidInput` with the kind's name (`"hour"`, `"times"`, `"ages"`, `"count"`,
`"day"`, `"days"`, `"month"`), or `"past"` for a day or time that has gone, so the prompt can
say what it expects.

A day typed without a year is the one from `RECENT_PAST` ago to a year after that: `12/7`
typed on 8 December is yesterday (refused where a day to come is asked), `1/5` is next
January, and `7/5` typed in September is next summer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ffs_bot.errors import InvalidInput

__all__ = [
    "RECENT_PAST",
    "parse_age_range",
    "parse_count",
    "parse_date",
    "parse_date_range",
    "parse_day_and_hours",
    "parse_hour",
    "parse_moment",
    "parse_month",
    "parse_time_range",
]

# A yearless day this long ago is read as that past day, not as next year's.
RECENT_PAST = timedelta(days=31)
# Two days typed without years may cross a new year (12/20-1/10), but not span more.
_LONGEST_CROSSING = timedelta(days=183)

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"\d{1,4}|[零〇一二两三四五六七八九十百千]{1,6}"
_TO = r"\s*(?:-|~|–|—|至|到|to|until|till)\s*"
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_LATER = ("下午", "傍晚", "晚上", "夜里", "夜间", "晚")
_PERIOD = r"凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|晚|早"
_CLOCK = (
    rf"(?P<period>{_PERIOD})?\s*(?P<hour>\d{{1,2}}|[零〇一二两三四五六七八九十]{{1,3}})\s*"
    r"(?:[:.]\s*(?P<minute>\d{2})|点\s*(?:(?P<half>半)|(?P<cn_minute>\d{1,2}|"
    r"[零〇一二三四五六七八九十]{1,3})\s*分?|整|钟)?|时\s*(?:(?P<hour_minute>\d{1,2})\s*分)?)?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?"
)
_CLOCK_RE = re.compile(_CLOCK)
_TO_RE = re.compile(_TO)
_COUNT_UNITS = re.compile(
    r"\s*(?:个人|个|人|名|位|座位|名额|个名额|places?|people|persons?|seats?|children|kids)$"
)
_AGE = re.compile(
    rf"(?:ages?\s*)?(?P<young>{_NUM})\s*(?:岁|周岁|years?)?{_TO}(?P<old>{_NUM})"
    r"\s*(?:岁|周岁|years?(?:\s*old)?)?"
)
_RELATIVE = {"今天": 0, "today": 0, "明天": 1, "tomorrow": 1, "后天": 2}
# Day patterns, tried in turn where a day may start. Groups: y (4 digits), yy (2, with 年),
# m, d, month (a name), and rel (today, tomorrow).
_DAY_PATTERNS = [
    re.compile(r"(?P<rel>今天|明天|后天|today|tomorrow)"),
    re.compile(
        r"(?:(?P<y>\d{4})\s*[年/.-]|(?P<yy>\d{2})\s*年)?\s*"
        rf"(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]?"
    ),
    re.compile(r"(?:(?P<y>\d{4})\s*[/.-]\s*)?(?P<m>\d{1,2})\s*[/.-]\s*(?P<d>\d{1,2})(?![\d:])"),
    re.compile(
        rf"(?P<month>{_MONTH_NAME})\.?\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"
        r"(?:\s*,?\s*(?P<y>\d{4})\b)?"
    ),
    re.compile(
        rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*(?P<month>{_MONTH_NAME})\b\.?"
        r"(?:\s*,?\s*(?P<y>\d{4})\b)?"
    ),
]
# The second day of a span may give only the day of the month: 7月10日到15日, Jul 10-15.
_DAY_ONLY = re.compile(rf"(?P<d>{_NUM})\s*[日号]?")
_MONTH_PATTERNS = [
    re.compile(
        r"(?:(?P<y>\d{4})\s*[年/.-]?|(?P<yy>\d{2})\s*年)\s*(?P<m>\d{1,2})\s*月?"
        r"(?:\s*[/.-]?\s*(?P<d>\d{1,2})\s*[日号]?)?\s*(?:出生|生)?"
    ),
    re.compile(r"(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"),
    re.compile(rf"(?P<month>{_MONTH_NAME})\.?\s*,?\s*(?P<y>\d{{4}})"),
]


def _fold(text: str) -> str:
    """The answer as read: full-width folded, lower case, spaces squeezed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _number(text: str) -> int:
    """An Arabic or Chinese number (20, 二十, 两百五十)."""
    if text.isdecimal():
        return int(text)
    total = current = 0
    for char in text:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[char]
            current = 0
        else:
            raise ValueError(text)
    return total + current


@dataclass(frozen=True, slots=True)
class _Clock:
    hour: int
    minute: int
    later: bool | None  # afternoon or evening said (True), morning said (False), or neither


def _read_clock(match: re.Match[str]) -> _Clock:
    hour = _number(match["hour"])
    minute_text = match["minute"] or match["cn_minute"] or match["hour_minute"]
    minute = 30 if match["half"] else _number(minute_text) if minute_text else 0
    period, ampm = match["period"], match["ampm"]
    later: bool | None = None
    if period == "中午":
        later = None if hour == 12 else hour < 11
    elif period:
        later = period in _LATER
    elif ampm:
        later = ampm.startswith("p")
    return _Clock(hour, minute, later)


def _to_time(clock: _Clock, later: bool | None) -> time:
    hour = clock.hour
    if later is True and hour < 12:
        hour += 12
    elif later is False and hour == 12:
        hour = 0
    return time(hour, clock.minute)


def _one_time(text: str, kind: str) -> time:
    match = _CLOCK_RE.fullmatch(text)
    if not match:
        raise InvalidInput(kind)
    try:
        clock = _read_clock(match)
        return _to_time(clock, clock.later)
    except ValueError:
        raise InvalidInput(kind) from None


def parse_hour(text: str) -> int:
    """Read a whole hour of the day: 20, 20:00, 20点, 晚上8点, 8pm.

    Raises:
        InvalidInput: "hour" when it is not a time on the hour.
    """
    at = _one_time(_fold(text), "hour")
    if at.minute:
        raise InvalidInput("hour")
    return at.hour


def _times(text: str, kind: str) -> tuple[time, time]:
    first = _CLOCK_RE.match(text)
    rest = _TO_RE.match(text, first.end()) if first else None
    second = _CLOCK_RE.fullmatch(text, rest.end()) if rest else None
    if first and second:
        try:
            start, end = _read_clock(first), _read_clock(second)
            # An unsaid half of the day is the other time's (下午2点到5点, 2-5pm), unless
            # that puts the times out of order (10-12pm, 9am-12).
            said_end = _to_time(end, end.later)
            start_time = _to_time(start, end.later if start.later is None else start.later)
            if start.later is None and start_time >= said_end:
                start_time = _to_time(start, None)
            end_time = _to_time(end, start.later if end.later is None else end.later)
            if end.later is None and end_time <= start_time:
                end_time = said_end
        except ValueError:
            raise InvalidInput(kind) from None
        if not start_time < end_time:
            raise InvalidInput(kind)
        return start_time, end_time
    raise InvalidInput(kind)


def parse_time_range(text: str) -> tuple[time, time]:
    """Read two times of one day, the first before the second: 9:00-12:00, 下午2点到5点, 2-5pm.

    Raises:
        InvalidInput: "times" when it is not two times, the first before the second.
    """
    return _times(_fold(text), "times")


def parse_count(text: str, most: int) -> int:
    """Read a number of places or people from 1 to `most`: 30, 30个, 三十人, 30 places.

    Raises:
        InvalidInput: "count" when it is not such a number.
    """
    bare = _COUNT_UNITS.sub("", _fold(text))
    try:
        count = _number(bare)
    except ValueError:
        raise InvalidInput("count") from None
    if not 1 <= count <= most:
        raise InvalidInput("count")
    return count


def parse_age_range(text: str, oldest: int) -> tuple[int, int]:
    """Read the youngest and oldest age, from 0 to `oldest`: 3-12, 3到12岁, ages 3 to 12.

    Raises:
        InvalidInput: "ages" when it is not two such ages, youngest first.
    """
    match = _AGE.fullmatch(_fold(text))
    if not match:
        raise InvalidInput("ages")
    try:
        young, old = _number(match["young"]), _number(match["old"])
    except ValueError:
        raise InvalidInput("ages") from None
    if not 0 <= young <= old <= oldest:
        raise InvalidInput("ages")
    return young, old


@dataclass(frozen=True, slots=True)
class _Day:
    """A day as typed: the year may be missing; `offset` is set for today and tomorrow."""

    year: int | None
    month: int
    day: int
    offset: int | None = None


def _match_day(text: str, at: int) -> tuple[_Day, int] | None:
    for pattern in _DAY_PATTERNS:
        match = pattern.match(text, at)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("rel"):
            return _Day(None, 0, 0, _RELATIVE[groups["rel"]]), match.end()
        try:
            month = _MONTHS[groups["month"]] if groups.get("month") else _number(groups["m"])
            day = _number(groups["d"])
        except ValueError:
            return None
        year = int(groups["y"]) if groups.get("y") else None
        if groups.get("yy"):
            year = 2000 + int(groups["yy"])
        return _Day(year, month, day), match.end()
    return None


def _resolve(typed: _Day, today: date, year: int | None) -> date:
    """The date a typed day means (see the module's docstring for a day without a year)."""
    if typed.offset is not None:
        return today + timedelta(days=typed.offset)
    if typed.year is not None or year is not None:
        return date(typed.year or year or today.year, typed.month, typed.day)
    earliest = today - RECENT_PAST
    for candidate_year in (today.year - 1, today.year, today.year + 1):
        try:
            candidate = date(candidate_year, typed.month, typed.day)
        except ValueError:
            continue  # 2/29 in a year without it
        if earliest <= candidate < earliest.replace(year=earliest.year + 1):
            return candidate
    return date(today.year, typed.month, typed.day)  # raises for a day no year has


def parse_date(text: str, today: date, *, year: int | None = None) -> date:
    """Read a day: 6/30, 6月30日, 2027/6/30, Jun 30, 30 June 2027, 明天, tomorrow.

    A day typed without a year is in `year` when given, else near `today` (module docstring).

    Raises:
        InvalidInput: "day" when it is not a day that exists.
    """
    folded = _fold(text)
    found = _match_day(folded, 0)
    if found is None or found[1] != len(folded):
        raise InvalidInput("day")
    try:
        return _resolve(found[0], today, year)
    except ValueError:
        raise InvalidInput("day") from None


def parse_date_range(
    text: str,
    today: date,
    *,
    year: int | None = None,
    whole: tuple[date, date] | None = None,
    whole_words: tuple[str, ...] = (),
) -> tuple[date, date]:
    """Read two days, the first not after the last: 7/10-8/15, 7月10日到15日, Jul 10 - Aug 15.

    With `whole`, the words for all of it (the label of the button that chooses it, 全部,
    whole, all) read as that span.

    Raises:
        InvalidInput: "days" when it is not two days that exist, in order.
    """
    folded = _fold(text)
    if whole is not None:
        words = {"全部", "全程", "整个", "都来", "whole", "all", "the whole time"}
        words |= {_fold(word).rstrip(":：") for word in whole_words}
        if folded.rstrip(":：") in words:
            return whole
    first = _match_day(folded, 0)
    if first is None:
        raise InvalidInput("days")
    to = _TO_RE.match(folded, first[1])
    if to is None:
        raise InvalidInput("days")
    second = _match_day(folded, to.end())
    if second is None and (only := _DAY_ONLY.fullmatch(folded, to.end())):
        try:
            day = _number(only["d"])
        except ValueError:
            raise InvalidInput("days") from None
        second = (_Day(first[0].year, first[0].month, day), len(folded))
    if second is None or second[1] != len(folded):
        raise InvalidInput("days")
    try:
        start = _resolve(first[0], today, year)
        typed_end = second[0]
        if typed_end.offset is not None:
            end = _resolve(typed_end, today, None)
        else:
            end = _resolve(typed_end, today, typed_end.year or start.year)
            crossed = end.replace(year=end.year + 1)
            if typed_end.year is None and end < start and crossed - start <= _LONGEST_CROSSING:
                end = crossed  # 12/20-1/10: over the new year
    except ValueError:
        raise InvalidInput("days") from None
    if end < start:
        raise InvalidInput("days")
    return start, end


def parse_month(text: str, today: date) -> tuple[int, int]:
    """Read a year and month: 2018-03, 2018.3, 2018/3, 2018年3月, 18年3月, 201803, Mar 2018.

    A two-digit year is this century's unless that is still to come (95年 is 1995).

    Raises:
        InvalidInput: "month" when it is not a year and a month.
    """
    folded = _fold(text)
    if folded.isdecimal() and len(folded) == 6:
        folded = f"{folded[:4]}-{folded[4:]}"
    for pattern in _MONTH_PATTERNS:
        match = pattern.fullmatch(folded)
        if match is None:
            continue
        groups = match.groupdict()
        month = _MONTHS[groups["month"]] if groups.get("month") else int(groups["m"])
        if groups.get("yy"):
            short = int(groups["yy"])
            century = 2000 if 2000 + short <= today.year else 1900
            year = century + short
        else:
            year = int(groups["y"])
        if not 1 <= month <= 12:
            raise InvalidInput("month")
        if groups.get("d"):
            # A whole date is read for its month, but only a day the month has (not 2/30).
            try:
                date(year, month, int(groups["d"]))
            except ValueError:
                raise InvalidInput("month") from None
        return year, month
    raise InvalidInput("month")


def _split_day(text: str) -> tuple[_Day, str]:
    found = _match_day(text, 0)
    if found is None:
        raise InvalidInput("day")
    return found[0], text[found[1] :].strip(" ,，的")


def parse_moment(text: str, now: datetime, timezone: str) -> datetime:
    """Read a day and a time to come: 12/9 18:00, 12月9日晚上6点, Dec 9 6pm, 明天 8:00.

    Raises:
        InvalidInput: "day" when it is not a day and a time; "past" when that time has gone.
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    typed, rest = _split_day(_fold(text))
    try:
        on = _resolve(typed, local.date(), None)
        at = _one_time(rest, "day")
    except ValueError:
        raise InvalidInput("day") from None
    moment = datetime.combine(on, at, zone)
    if moment <= local:
        raise InvalidInput("past")
    return moment


def parse_day_and_hours(text: str, now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Read a day to come and its hours: 7/14 9:00-12:00, 7月14日下午2点到5点, Jul 14 2-5pm.

    Raises:
        InvalidInput: "day" when it is not a day and two times in order; "past" when the
            start has gone.
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    typed, rest = _split_day(_fold(text))
    try:
        on = _resolve(typed, local.date(), None)
    except ValueError:
        raise InvalidInput("day") from None
    try:
        first, last = _times(rest, "day")
    except InvalidInput:
        raise InvalidInput("day") from None
    start, end = datetime.combine(on, first, zone), datetime.combine(on, last, zone)
    if start <= local:
        raise InvalidInput("past")
    return start, end
