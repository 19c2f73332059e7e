"""The demo data: factories, an open season and workshops to book, the 2018 programme; once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from ffs_bot.db.tables import ChildRow, FactoryRow, GuardianRow, IdentityRow, PersonRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.demo import DEMO_SEASON_FACTORY, DemoReport, load_demo, make_demo_coordinator
from ffs_bot.demo.history import History
from ffs_bot.reports import programme_report
from ffs_bot.services.season_admin import seasons_for_staff
from ffs_bot.services.seasons import Funding
from ffs_bot.services.workshops import upcoming_workshops
from tests.conftest import Backend

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The programme as announced for summer 2018.
ANNOUNCED = {
    "factories": 18,
    "factories_returning": 11,
    "factories_self_funded": 11,
    "factories_new": 7,
    "factories_sponsored": 7,
    "sponsors": {
        "LEGO": ["DG04", "FS01", "SZ04"],
        "TÜV Rheinland": ["JM01", "ZS01"],
        "Target": ["QY01", "ZH01"],
    },
    "children_confirmed": 691,
    "parents": 788,
}


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


async def _in_pairs(uow: UnitOfWork, column: InstrumentedAttribute[int]) -> int | None:
    """How many children have two guardians, or guardians two children."""
    pairs = select(column).group_by(column).having(func.count() == 2).subquery()
    return await uow.session.scalar(select(func.count()).select_from(pairs))


async def test_the_2018_programme_is_reproduced_from_the_rows(backend: Backend) -> None:
    async with backend.db.uow() as uow:
        loaded = await load_demo(uow, "Asia/Shanghai", date(2027, 5, 5))
        await uow.commit()
    assert loaded.history == History(
        spaces=18, returning=11, sponsored=7, children=691, parents=788
    )
    async with backend.db.uow() as uow:
        found = (await programme_report(uow, year=2018)).to_json()
        children = await uow.session.scalar(select(func.count()).select_from(ChildRow))
        two_guardians = await _in_pairs(uow, GuardianRow.child_id)
        two_children = await _in_pairs(uow, GuardianRow.person_id)
    assert {key: found[key] for key in ANNOUNCED} == ANNOUNCED
    # Not stored as totals: more children were registered than placed, and families differ.
    assert children == found["children_registered"] > found["children_confirmed"]
    assert two_guardians and two_children
    assert 0 < found["children_attended"] < found["children_confirmed"]
    assert (
        found["workshops_held"] == 36 and 0 < found["workshop_attendees"] < found["seats_booked"]
    )
    assert found["tips_sent"] > found["tips_helpful"] > 0
    by_factory = {f["code"]: f for f in found["by_factory"]}
    assert sum(f["children_confirmed"] for f in by_factory.values()) == 691
    assert {code for code, f in by_factory.items() if f["returning"]} == {
        "DG01",
        "DG02",
        "DG03",
        "GZ01",
        "GZ02",
        "HY01",
        "HZ01",
        "SG01",
        "SZ01",
        "SZ02",
        "SZ03",
    }


async def test_earlier_summers_make_the_returning_factories_returning(backend: Backend) -> None:
    async with backend.db.uow() as uow:
        await load_demo(uow, "Asia/Shanghai", date(2027, 5, 5))
        await uow.commit()
    async with backend.db.uow() as uow:
        seasons = {year: await programme_report(uow, year=year) for year in (2015, 2016, 2017)}
        # Rows added the ordinary way after the bulk load get fresh ids (on PostgreSQL the
        # sequences were moved past the ones the load gave).
        uow.session.add(PersonRow(display_name="新来的", language="zh_Hans"))
        await uow.session.flush()
    assert [len(r.ffs_factories) for r in seasons.values()] == [0, 5, 11]
    assert [sum(f.returning for f in r.ffs_factories) for r in seasons.values()] == [0, 0, 5]
    assert all(f.funding is Funding.SELF for r in seasons.values() for f in r.ffs_factories)


async def test_the_demo_coordinator_still_sees_the_open_season_first(backend: Backend) -> None:
    async with backend.db.uow() as uow:
        await load_demo(uow, "Asia/Shanghai", date(2027, 5, 5))
        await make_demo_coordinator(uow, "console", "local")
        await uow.commit()
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(
            select(IdentityRow.person_id).where(IdentityRow.external_user_id == "local")
        )
        assert person is not None
        found = await seasons_for_staff(uow, person)
    assert [s.season.starts_on.year for s in found] == [2027, 2018, 2017, 2016]
    assert found[0].season.registration_open and not found[1].season.registration_open
