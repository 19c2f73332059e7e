"""Languages: mapping client language codes, loading Babel catalogs, formatting."""

from __future__ import annotations

import gettext
import io
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_interval, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "N_",
    "Translator",
    "Translators",
    "load_translators",
    "negotiate_language",
]

# Chinese first: the people we serve mostly read Simplified Chinese.
DEFAULT_LANGUAGE = "zh_Hans"
LANGUAGES: tuple[str, ...] = ("zh_Hans", "en")
# Each language by its own name, the same in every catalog so people find their own.
LANGUAGE_NAMES = {"zh_Hans": "中文", "en": "English"}
DOMAIN = "messages"

_SEPARATORS = re.compile(r"[-_]")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark `message` for extraction; it is translated later, where the language is known."""
    return message


def negotiate_language(code: str | None) -> str:
    """Map a client language code (Telegram's `language_code`, say) to one we speak.

    Any Chinese, Traditional included, gets Simplified (workers read it); any English gets
    English; everything else, and nothing, gets the default.
    """
    if not code:
        return DEFAULT_LANGUAGE
    primary = _SEPARATORS.split(code.strip().lower(), maxsplit=1)[0]
    if primary == "en":
        return "en"
    return DEFAULT_LANGUAGE


def display_width(text: str) -> int:
    """Columns the text takes on a screen or in a sheet: Chinese characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class Translator:
    """Translations and formats for one language."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._translations = translations

    def _(self, msgid: str, /, **params: Any) -> str:
        """Translate `msgid`, then fill its named `{placeholders}`."""
        text = self._translations.gettext(msgid)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """Translate a message whose form depends on the number `n` (also given as `{n}`)."""
        return self._translations.ngettext(singular, plural, n).format(n=n, **params)

    def month(self, year: int, month: int) -> str:
        """A year and month the way this language writes them (2018年3月, Mar 2018)."""
        return str(format_skeleton("yMMM", date(year, month, 1), locale=self.locale))

    def day(self, value: date, *, with_year: bool = False) -> str:
        """A day with its weekday (6月30日周二, Tue, Jun 30); `with_year` adds the year."""
        return str(format_skeleton("yMMMdE" if with_year else "MMMdE", value, locale=self.locale))

    def date_range(self, start: date, end: date, *, with_year: bool = False) -> str:
        """Two days the way this language writes a span (7月5日至8月20日, Jul 5 – Aug 20).

        `with_year` adds the year (2018年7月5日至8月20日, Jul 5 – Aug 20, 2018), for lists that
        mix summers.
        """
        skeleton = "yMMMd" if with_year else "MMMd"
        return str(format_interval(start, end, skeleton, locale=self.locale))

    def weekday_date(self, value: datetime, timezone: str) -> str:
        """The local day with its weekday (7月14日周一, Mon, Jul 14)."""
        return self.day(value.astimezone(ZoneInfo(timezone)).date())

    def clock(self, value: datetime, timezone: str) -> str:
        """The local time of day (18:05), for a moment later today."""
        local = value.astimezone(ZoneInfo(timezone))
        return str(format_skeleton("Hm", local, locale=self.locale))

    def weekday_moment(self, value: datetime, timezone: str) -> str:
        """The local day with its weekday, and the time (12月8日周二 09:36, Tue, Dec 8, 09:36)."""
        return self._moment(value, timezone, with_year=False)

    def dated_moment(self, value: datetime, timezone: str) -> str:
        """A local time with its year and weekday (2026年12月9日周三 18:00), for times to come."""
        return self._moment(value, timezone, with_year=True)

    def _moment(self, value: datetime, timezone: str, *, with_year: bool) -> str:
        local = value.astimezone(ZoneInfo(timezone))
        day = self.day(local.date(), with_year=with_year)
        time = format_skeleton("Hm", local, locale=self.locale)
        # CLDR's own glue between a date and a time ("{1} {0}", "{1}, {0}").
        return str(self.locale.datetime_formats["medium"]).format(time, day)

    def time_range(self, start: datetime, end: datetime, timezone: str) -> str:
        """Two local times of one day as a span (09:00–12:00)."""
        zone = ZoneInfo(timezone)
        return str(
            format_interval(
                start.astimezone(zone).time(),
                end.astimezone(zone).time(),
                "Hm",
                locale=self.locale,
            )
        )


Translators = Mapping[str, Translator]


def _load_catalog(po_path: Path) -> gettext.GNUTranslations:
    """Compile a `.po` file in memory, so no build step has to produce `.mo` files."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=po_path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    # Fuzzy entries are guesses nobody reviewed: leave them out, like msgfmt does.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_translators(locales_dir: Path) -> dict[str, Translator]:
    """Load every language's catalog from `locales_dir/<lang>/LC_MESSAGES/messages.po`."""
    translators: dict[str, Translator] = {}
    for language in LANGUAGES:
        po_path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_path.is_file():
            raise FileNotFoundError(f"missing catalog {po_path}")
        translators[language] = Translator(language, _load_catalog(po_path))
    return translators
