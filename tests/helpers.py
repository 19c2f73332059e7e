"""Helpers for driving conversations in tests."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_interval, format_skeleton

from ffs_bot.db.uow import Database
from ffs_bot.messages import Inbound, Reply
from ffs_bot.services.factories import FactoryInput, get_factory_by_code, import_factories
from ffs_bot.services.people import set_factory
from handlers.engine import ConversationEngine

FACTORIES = [
    FactoryInput("SZ01", "深圳龙岗欢乐玩具厂", "Longgang Happy Toys", "深圳", "Asia/Shanghai"),
    FactoryInput("SZ02", "深圳宝安星光玩具厂", "Bao'an Starlight Toys", "深圳", "Asia/Shanghai"),
    FactoryInput("DG01", "东莞长安彩虹玩具厂", "Chang'an Rainbow Toys", "东莞", "Asia/Shanghai"),
    FactoryInput("100%", "百分百玩具厂", "Hundred Percent Toys", "河源", "Asia/Shanghai"),
]

_ids = itertools.count(1)

# Dates as the bot writes them. Which fields a date shows is ours to decide (Translator in
# ffs_bot/i18n.py picks a CLDR skeleton: year or not, weekday or not); how CLDR spells them
# is Babel's, and changes between releases (Babel 2.14 writes a Chinese span with a year as
# 2027年7月5日至8月20日, 2.19 as 2027年7月5日 – 8月20日). So tests build the text they expect
# from the dates they expect and the skeleton we chose, with whichever Babel is installed: a
# wrong day, a missing year or weekday, or the ends swapped still fail, CLDR's dashes do not.


# The bot reads a day typed without a year as one from a month ago to eleven months on, and
# refuses a time gone (handlers/answers.py), so a test that types a fixed day such as 7/14
# fails for a month each year. Tests type days counted from today instead.


def days_from_today(days: int, zone: str = "Asia/Shanghai") -> date:
    """The day `days` after today where the test factories are (Shanghai)."""
    return datetime.now(ZoneInfo(zone)).date() + timedelta(days=days)


def later_today(zone: str = "Asia/Shanghai") -> datetime:
    """A time later today where the test factories are; just before midnight, an earlier one."""
    now = datetime.now(ZoneInfo(zone))
    start = now + timedelta(minutes=5)
    return start if start.date() == now.date() else now - timedelta(hours=2)


def typed_day(day: date) -> str:
    """A day as a person types it, month and day without the year (7/14)."""
    return f"{day.month}/{day.day}"


def typed_days(start: date, end: date) -> str:
    """Two days as a person types a span of them (7/5-8/20)."""
    return f"{typed_day(start)}-{typed_day(end)}"


def coming_season(days: int = 46) -> tuple[date, date]:
    """A season's first and last day to come, with a month before it and after it in its year.

    Typed without years, a season's days, its deadline a few days before and a day after it
    must all read as the same year's (a deadline is read in the season's year).
    """
    start = days_from_today(40)
    if (start - timedelta(days=30)).year != (start + timedelta(days=days + 30)).year:
        start = date(start.year + (start.month > 6), 2, 1)
    return start, start + timedelta(days=days - 1)


def typed_season() -> tuple[str, str]:
    """A coming season's days and its registration deadline, typed as a coordinator would."""
    start, end = coming_season()
    return typed_days(start, end), typed_day(start - timedelta(days=5))


def month_text(year: int, month: int, language: str = "en") -> str:
    """A birth month the way Translator.month writes it (2018年3月, Mar 2018)."""
    return str(format_skeleton("yMMM", date(year, month, 1), locale=language))


def days_text(start: date, end: date, language: str = "en", *, with_year: bool = False) -> str:
    """A span of days the way Translator.date_range writes it (7月5日至8月20日, Jul 5 – Aug 20)."""
    skeleton = "yMMMd" if with_year else "MMMd"
    return str(format_interval(start, end, skeleton, locale=language))


def weekday_text(day: date, language: str = "en", *, with_year: bool = False) -> str:
    """A local day with its weekday the way Translator.day writes it (7月14日周三)."""
    return str(format_skeleton("yMMMdE" if with_year else "MMMdE", day, locale=language))


def moment_text(
    value: datetime, language: str = "en", *, with_year: bool = False, zone: str = "Asia/Shanghai"
) -> str:
    """A local time the way Translator.weekday_moment (or dated_moment) writes it."""
    local = value.astimezone(ZoneInfo(zone))
    day = format_skeleton("yMMMdE" if with_year else "MMMdE", local, locale=language)
    glue = str(Locale.parse(language).datetime_formats["medium"])
    return glue.format(format_skeleton("Hm", local, locale=language), day)


def hours_text(start: time, end: time, language: str = "en") -> str:
    """Two local times the way Translator.time_range writes them (09:00–12:00)."""
    return str(format_interval(start, end, "Hm", locale=language))


async def seed_factories(db: Database) -> None:
    """Store the test factories."""
    async with db.uow() as uow:
        await import_factories(uow, FACTORIES)
        await uow.commit()


async def works_at(db: Database, person_id: int, code: str) -> None:
    """Move a worker to the factory with this code (they book and register there only)."""
    async with db.uow() as uow:
        factory = await get_factory_by_code(uow, code)
        assert factory is not None
        await set_factory(uow, person_id, factory.id)
        await uow.commit()


class Chat:
    """One person talking to the engine, the way a channel adapter would."""

    def __init__(
        self,
        engine: ConversationEngine,
        user: str = "u1",
        language_code: str | None = None,
        channel: str = "console",
    ) -> None:
        self.engine = engine
        self.user = user
        self.language_code = language_code
        self.channel = channel
        self.last: list[Reply] = []

    async def send(self, text: str | None, *, message_id: str | None = None) -> list[Reply]:
        """Send text and return the replies."""
        return await self._handle(Inbound(self.channel, self.user, text=text), message_id)

    async def press(self, payload: str, *, message_id: str | None = None) -> list[Reply]:
        """Press a button by its payload and return the replies."""
        return await self._handle(Inbound(self.channel, self.user, payload=payload), message_id)

    async def _handle(self, inbound: Inbound, message_id: str | None) -> list[Reply]:
        inbound = Inbound(
            channel=inbound.channel,
            user_id=inbound.user_id,
            text=inbound.text,
            payload=inbound.payload,
            language_hint=self.language_code,
            message_id=message_id or f"m{next(_ids)}",
        )
        self.last = await self.engine.handle(inbound)
        return self.last

    @property
    def text(self) -> str:
        """All text of the last answer."""
        return "\n".join(reply.text for reply in self.last)

    @property
    def payloads(self) -> list[str]:
        """The payloads of the last answer's buttons."""
        return [c.payload for reply in self.last for c in reply.choices]

    async def onboard(
        self, *, language: str = "en", factory: str = "SZ01", name: str = "Ah Ming"
    ) -> None:
        """Go through first contact to the main menu."""
        await self.send("/start")
        await self.press(f"lang:{language}")
        await self.send(factory)
        await self.press("consent:yes")
        await self.send(name)
        assert "account" in self.payloads, self.text
