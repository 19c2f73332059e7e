"""Language negotiation and the catalogs: complete, consistent, and read without compiling."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ffs_bot.i18n import LANGUAGES, display_width, negotiate_language
from tests.conftest import LOCALES, REPO

PLACEHOLDER = re.compile(r"\{(\w*)\}")


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("zh", "zh_Hans"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh_CN", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("ZH-HK", "zh_Hans"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("", "zh_Hans"),
        (None, "zh_Hans"),
        ("fr", "zh_Hans"),
        ("english", "zh_Hans"),
    ],
)
def test_client_language_codes_map_to_a_language_we_speak(code: str | None, language: str) -> None:
    assert negotiate_language(code) == language


def _catalog(language: str):
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _extracted() -> set[str]:
    found: set[str] = set()
    for package in ("ffs_bot", "handlers", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO / package, method_map=[("**.py", "python")]
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_in_the_code_is_in_the_template_and_nothing_stale() -> None:
    with (LOCALES / "messages.pot").open("rb") as f:
        template = {_ids(m)[0] for m in read_po(f) if m.id}
    assert _extracted() == template, "run scripts/update-catalogs"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_has_every_template_message(language: str) -> None:
    with (LOCALES / "messages.pot").open("rb") as f:
        template = {_ids(m)[0] for m in read_po(f) if m.id}
    assert {_ids(m)[0] for m in _catalog(language) if m.id} == template


def test_chinese_catalog_is_complete_reviewed_and_keeps_placeholders() -> None:
    catalog = _catalog("zh_Hans")
    assert not catalog.fuzzy
    assert catalog.num_plurals == 1
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids, strings = _ids(message), _strings(message)
        if message.fuzzy or not all(strings):
            problems.append(("untranslated or fuzzy", ids[0]))
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(("placeholders differ", ids[0]))
            # A Chinese translation with no Chinese in it is English left behind.
            words = PLACEHOLDER.sub("", ids[0])
            if re.search(r"[a-zA-Z]{4,}", words) and not re.search(r"[\u4e00-\u9fff]", string):
                problems.append(("no Chinese", ids[0]))
    assert problems == []


def test_translators_translate_fill_placeholders_and_format_dates(translators) -> None:
    zh, en = translators["zh_Hans"], translators["en"]
    assert zh._("Welcome, {name}! You're all set.", name="王姐") == "欢迎您，王姐！登记完成了。"
    assert en._("Welcome, {name}! You're all set.", name="Li") == "Welcome, Li! You're all set."
    when = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # 18:00 on Wednesday in Shanghai
    assert _numbers(zh.weekday_moment(when, "Asia/Shanghai")) == [12, 9, 18, 0]
    assert "周三" in zh.weekday_moment(when, "Asia/Shanghai")
    # A time set ahead shows its year and weekday, never 2026/12/9 or 12/9/26, 6:00 PM.
    assert _numbers(zh.dated_moment(when, "Asia/Shanghai")) == [2026, 12, 9, 18, 0]
    assert "周三" in zh.dated_moment(when, "Asia/Shanghai")
    assert _numbers(en.dated_moment(when, "Asia/Shanghai")) == [9, 2026, 18, 0]
    assert "Wed" in en.dated_moment(when, "Asia/Shanghai")
    assert "/" not in zh.dated_moment(when, "Asia/Shanghai") + en.dated_moment(when, "UTC")
    # A day a person reads has its weekday: a registration deadline, today's roster.
    assert "周二" in zh.day(date(2026, 6, 30)) and "Tue" in en.day(date(2026, 6, 30))


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def test_dates_show_the_fields_we_chose_in_order_whatever_cldr_puts_between_them(
    translators,
) -> None:
    # Babel releases change what stands between the fields (至 or a dash, spaces or none), so
    # this reads only the numbers and the weekday: which fields, which days, in which order.
    zh, en = translators["zh_Hans"], translators["en"]
    start, end = date(2027, 7, 5), date(2027, 8, 20)
    at = datetime(2027, 7, 13, 23, 30, tzinfo=UTC)  # Wednesday the 14th, 07:30 in Shanghai
    assert _numbers(zh.month(2018, 3)) == [2018, 3]
    assert _numbers(zh.day(date(2027, 6, 30))) == [6, 30]
    assert _numbers(zh.date_range(start, end)) == [7, 5, 8, 20]
    assert _numbers(zh.date_range(start, end, with_year=True)) == [2027, 7, 5, 8, 20]
    assert _numbers(zh.weekday_date(at, "Asia/Shanghai")) == [7, 14]
    assert _numbers(zh.time_range(at, at + timedelta(hours=3), "Asia/Shanghai")) == [7, 30, 10, 30]
    # English writes the year where CLDR puts it, and only when asked for.
    assert _numbers(en.date_range(start, end)) == [5, 20]
    with_year = _numbers(en.date_range(start, end, with_year=True))
    assert sorted(with_year) == [5, 20, 2027] and with_year.index(5) < with_year.index(20)
    # The weekday is the local day's, not the 13th's as in UTC.
    for t in (zh, en):
        wednesday = format_date(date(2027, 7, 14), "E", locale=t.locale)
        assert wednesday in t.weekday_date(at, "Asia/Shanghai")


def test_a_user_value_with_braces_is_not_taken_for_a_placeholder(translators) -> None:
    text = translators["en"]._("Welcome, {name}! You're all set.", name="{name}{0}")
    assert text == "Welcome, {name}{0}! You're all set."


def test_plural_messages_choose_by_number(translators) -> None:
    singular = (
        "{n} factory matches. Here are the first {shown}; type more of the name to narrow it down."
    )
    plural = (
        "{n} factories match. Here are the first {shown}; type more of the name to narrow it down."
    )
    assert translators["en"].ngettext(singular, plural, 1, shown=1).startswith("1 factory matches")
    assert translators["en"].ngettext(singular, plural, 7, shown=5).startswith("7 factories match")
    assert translators["zh_Hans"].ngettext(singular, plural, 7, shown=5).startswith("有 7 家")


def test_display_width_counts_chinese_characters_as_two_columns() -> None:
    assert display_width("SZ01") == 4
    assert display_width("深圳 SZ01") == 9
    assert display_width("ＳＺ") == 4  # full-width Latin, as Chinese keyboards type it
    assert display_width("") == 0
