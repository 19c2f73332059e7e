"""The demo data: factories, an open season and workshops to book, loaded once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ffs_bot.db.tables import FactoryRow
from ffs_bot.demo import DEMO_SEASON_FACTORY, DemoReport, load_demo
from ffs_bot.services.workshops import upcoming_workshops
from tests.conftest import Backend

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("today", "first_sunday"),
    [
        (date(2027, 5, 5), date(2027, 5, 16)),  # a Wednesday
        (date(2027, 5, 8), date(2027, 5, 16)),  # a Saturday: not the very next day
        (date(2027, 5, 9), date(2027, 5, 16)),  # a Sunday: a week on
        (date(2027, 5, 10), date(2027, 5, 23)),  # a Monday
    ],
)
async def test_demo_plans_three_half_day_workshops_on_the_coming_sundays(
    backend: Backend, today: date, first_sunday: date
) -> None:
    async with backend.db.uow() as uow:
        report = await load_demo(uow, "Asia/Shanghai", today)
        await uow.commit()
    assert report.workshops == 3
    async with backend.db.uow() as uow:
        factory = await uow.session.scalar(
            select(FactoryRow.id).where(FactoryRow.code == DEMO_SEASON_FACTORY)
        )
        assert factory is not None
        now = datetime(today.year, today.month, today.day, tzinfo=UTC)
        planned = await upcoming_workshops(uow, factory, now=now)
    local = [(w.starts_at.astimezone(SHANGHAI), w.ends_at.astimezone(SHANGHAI)) for w in planned]
    assert [(start.date() - first_sunday).days for start, _end in local] == [0, 7, 14]
    assert [(start.time(), end.time()) for start, end in local] == [
        (time(9), time(12)),
        (time(14), time(17)),
        (time(9), time(12)),
    ]
    assert [w.language for w in planned] == ["zh_Hans", "zh_Hans", "en"]
    assert planned[0].topic == "远距离也能亲近孩子：视频通话怎么聊"
    assert all(20 <= w.capacity <= 30 and w.place and w.trainer for w in planned)
    assert not any(w.cancelled or w.seats_taken for w in planned)


async def test_demo_loads_into_an_empty_database_once(backend: Backend) -> None:
    today = date(2027, 5, 5)
    async with backend.db.uow() as uow:
        first = await load_demo(uow, "Asia/Shanghai", today)
        await uow.commit()
    async with backend.db.uow() as uow:
        again = await load_demo(uow, "Asia/Shanghai", today)
    assert (first.seasons, first.workshops) == (1, 3)
    assert first.factories > 0
    assert again == DemoReport(0, 0, 0, 0)
