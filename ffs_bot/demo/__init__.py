"""Demo programme data, loaded by `ffs-bot demo` into an empty database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib.resources import files

from sqlalchemy import func, select

from ffs_bot.db.tables import SeasonRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import RoleName
from ffs_bot.services.factories import count_factories, import_factories, parse_factory_csv
from ffs_bot.services.seasons import create_season
from ffs_bot.services.staff import grant_role

__all__ = ["DEMO_SEASON_FACTORY", "DemoReport", "load_demo", "make_demo_coordinator"]

DEMO_SEASON_FACTORY = "SZ01"


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo data added."""

    factories: int
    seasons: int


async def load_demo(uow: UnitOfWork, default_timezone: str, today: date) -> DemoReport:
    """Load the demo factories, with an open season, into a database that has no factories."""
    if await count_factories(uow):
        return DemoReport(0, 0)
    text = files("ffs_bot.demo").joinpath("factories.csv").read_text(encoding="utf-8")
    rows, errors = parse_factory_csv(text, default_timezone)
    if errors:
        raise ValueError(f"demo data is broken: {errors}")
    factories = (await import_factories(uow, rows)).created
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
            place="3号楼2楼，食堂旁边 / Building 3, 2nd floor, next to the canteen",
        )
        seasons = 1
    return DemoReport(factories, seasons)


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
