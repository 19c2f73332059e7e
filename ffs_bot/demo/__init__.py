"""Demo programme data, loaded by `ffs-bot demo` into an empty database.

Today's programme (an open season and workshops to come at SZ01, the tips library) and,
as history, the summer 2018 programme at 18 factories (see `history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ffs_bot.db.tables import FactoryRow, SeasonRow, TipRow, WorkshopRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.demo.history import History, load_history
from ffs_bot.model import Bilingual, RoleName
from ffs_bot.services.factories import count_factories, import_factories, parse_factory_csv
from ffs_bot.services.seasons import create_season
from ffs_bot.services.staff import grant_role
from ffs_bot.services.tips import import_tips
from ffs_bot.services.workshops import create_workshop
from ffs_bot.tips import parse_library, starter_library

__all__ = ["DEMO_SEASON_FACTORY", "DemoReport", "load_demo", "make_demo_coordinator"]

DEMO_SEASON_FACTORY = "SZ01"
# The factories of today's demo, then those that joined for the 2018 programme.
FACTORY_FILES = ("factories.csv", "factories_2018.csv")
WORKSHOP_PLACE = Bilingual("食堂二楼培训室", "Training room, canteen 2nd floor")
SEASON_PLACE = Bilingual("3号楼2楼，食堂旁边", "Building 3, 2nd floor, next to the canteen")


@dataclass(frozen=True, slots=True)
class _DemoWorkshop:
    """A workshop in the demo: when on its Sunday, and what about."""

    starts: time
    topic: str
    language: str
    capacity: int
    trainer: str


# On the coming Sundays, one a week, when most lines stop; half a day each.
DEMO_WORKSHOPS = (
    _DemoWorkshop(time(9), "远距离也能亲近孩子：视频通话怎么聊", "zh_Hans", 30, "王丽老师"),
    _DemoWorkshop(time(14), "孩子的暑假安全", "zh_Hans", 25, "陈静老师"),
    _DemoWorkshop(
        time(9),
        "照顾好自己：压力与睡眠 / Looking after yourself: stress and sleep",
        "en",
        20,
        "Sarah Lin",
    ),
)
WORKSHOP_LENGTH = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo data added."""

    factories: int
    seasons: int
    workshops: int
    tips: int = 0
    # The summer 2018 programme, for reports.
    history: History | None = None


async def load_demo(uow: UnitOfWork, default_timezone: str, today: date) -> DemoReport:
    """Load the demo factories, an open season and workshops to come into an empty database."""
    if await count_factories(uow):
        return DemoReport(0, 0, 0, 0)
    factories = 0
    for name in FACTORY_FILES:
        text = files("ffs_bot.demo").joinpath(name).read_text(encoding="utf-8")
        rows, errors = parse_factory_csv(text, default_timezone)
        if errors:
            raise ValueError(f"demo data is broken: {name}: {errors}")
        factories += (await import_factories(uow, rows)).created
    seasons = 0
    if not await uow.session.scalar(select(func.count()).select_from(SeasonRow)):
        # The next summer whose registration is still open.
        year = today.year if today < date(today.year, 6, 30) else today.year + 1
        await create_season(
            uow,
            factory_code=DEMO_SEASON_FACTORY,
            starts_on=date(year, 7, 5),
            ends_on=date(year, 8, 20),
            min_age_years=3,
            max_age_years=12,
            capacity=30,
            registration_deadline=date(year, 6, 30),
            place=SEASON_PLACE,
        )
        seasons = 1
    workshops = 0
    if not await uow.session.scalar(select(func.count()).select_from(WorkshopRow)):
        workshops = await _add_workshops(uow, default_timezone, today)
    tips = 0
    if not await uow.session.scalar(select(func.count()).select_from(TipRow)):
        # The starter library, so the tips menu works; nobody is subscribed.
        entries, problems = parse_library(starter_library())
        if problems:
            raise ValueError(f"the starter tip library is broken: {problems}")
        tips, _updated = await import_tips(uow, entries)
    # Last, so the open season and the workshops above are the only ones still to come.
    history = await load_history(uow)
    return DemoReport(factories, seasons, workshops, tips, history)


async def _add_workshops(uow: UnitOfWork, default_timezone: str, today: date) -> int:
    """Plan the demo workshops at the demo factory on the next Sundays; return how many."""
    zone_name = await uow.session.scalar(
        select(FactoryRow.timezone).where(FactoryRow.code == DEMO_SEASON_FACTORY)
    )
    zone = ZoneInfo(zone_name or default_timezone)
    # The first Sunday at least a week away: time to book, and to see reminders come.
    first_sunday = today + timedelta(days=7 + (6 - today.weekday()) % 7)
    now = datetime.combine(today, time(), tzinfo=zone).astimezone(UTC)
    for week, planned in enumerate(DEMO_WORKSHOPS):
        day = first_sunday + timedelta(weeks=week)
        starts_at = datetime.combine(day, planned.starts, tzinfo=zone).astimezone(UTC)
        await create_workshop(
            uow,
            factory_code=DEMO_SEASON_FACTORY,
            starts_at=starts_at,
            ends_at=starts_at + WORKSHOP_LENGTH,
            topic=planned.topic,
            language=planned.language,
            capacity=planned.capacity,
            place=WORKSHOP_PLACE,
            trainer=planned.trainer,
            now=now,
        )
    return len(DEMO_WORKSHOPS)


async def make_demo_coordinator(uow: UnitOfWork, channel: str, user_id: str) -> bool:
    """Let the person trying the demo run the demo season too; return whether that is new."""
    held = await grant_role(
        uow,
        channel=channel,
        external_user_id=user_id,
        role=RoleName.COORDINATOR,
        factory_codes=[DEMO_SEASON_FACTORY],
    )
    return bool(held)
