"""Programme reports from a real database: what is counted, once, for whom, in few queries."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from matplotlib.text import Text
from openpyxl import load_workbook
from sqlalchemy import event, select

from ffs_bot.charts import report_figure
from ffs_bot.db.tables import (
    AttendanceRow,
    BookingRow,
    ChildRow,
    FactoryRow,
    FeedbackRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    RoleRow,
    SeasonRow,
    SeasonSponsorRow,
    SponsorRow,
    TipDeliveryRow,
    TipRow,
    WorkshopRow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.i18n import Translator
from ffs_bot.reports import (
    Report,
    programme_report,
    report_chart_file,
    report_tables,
    report_workbook,
    text_table,
)
from ffs_bot.services.seasons import Funding
from tests.conftest import Backend

NOW = datetime(2018, 9, 1, tzinfo=UTC)
# What a sponsor must never see: the people's and children's names, phones, health notes.
PARENT_NAMES = ["王秀英", "李建国", "Zhang Wei", "陈静 13800138000", "刘洋", "赵敏", "周杰"]
CHILD_NAMES = ["乐乐", "豆豆", "Tiantian", "小明", "果果", "妞妞", "甜甜"]
HEALTH_NOTE = "花生过敏 / peanut allergy"
# Door and booking codes are unique across the database.
CODES = itertools.count(1)
PRIVATE = [*PARENT_NAMES, *CHILD_NAMES, "13800138000", "花生", "peanut"]


@dataclass
class Ids:
    """The people the tests act as."""

    admin: int
    coordinator_a: int
    sponsor_b: int
    nobody: int


class Builder:
    """Rows for a small programme year, added straight to the session."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def add(self, row: object) -> object:
        self.uow.session.add(row)
        await self.uow.session.flush()
        return row

    async def factory(self, code: str, name_zh: str) -> int:
        row = FactoryRow(
            code=code,
            name_zh=name_zh,
            name_en=f"{code} Toys",
            city="深圳",
            timezone="Asia/Shanghai",
        )
        await self.add(row)
        return row.id

    async def season(self, factory_id: int, year: int, sponsors: tuple[str, ...] = ()) -> int:
        row = SeasonRow(
            factory_id=factory_id,
            starts_on=date(year, 7, 9),
            ends_on=date(year, 8, 17),
            min_age_years=3,
            max_age_years=12,
            capacity=50,
            registration_deadline=date(year, 6, 30),
            funding=Funding.SPONSOR.value if sponsors else Funding.SELF.value,
        )
        await self.add(row)
        for name in sponsors:
            sponsor = await self.sponsor(name)
            await self.add(SeasonSponsorRow(season_id=row.id, sponsor_id=sponsor))
        return row.id

    async def sponsor(self, name: str) -> int:
        found = await self.uow.session.scalar(select(SponsorRow.id).where(SponsorRow.name == name))
        if found is not None:
            return found
        row = SponsorRow(name=name)
        await self.add(row)
        return row.id

    async def person(self, name: str, factory_id: int | None = None) -> int:
        row = PersonRow(display_name=name, language="zh_Hans", factory_id=factory_id)
        await self.add(row)
        return row.id

    async def child(self, name: str, *guardians: int) -> int:
        row = ChildRow(
            name=name, birth_year=2011, birth_month=3, gender="girl", health_notes=HEALTH_NOTE
        )
        await self.add(row)
        for person in guardians:
            await self.add(GuardianRow(child_id=row.id, person_id=person, relationship="mother"))
        return row.id

    async def register(self, season: int, child: int, status: str, days: int = 0) -> int:
        row = RegistrationRow(
            season_id=season,
            child_id=child,
            status=status,
            starts_on=date(2018, 7, 9),
            ends_on=date(2018, 8, 17),
        )
        await self.add(row)
        for day in range(days):
            when = datetime(2018, 7, 9, 1, tzinfo=UTC) + timedelta(days=day)
            await self.add(
                AttendanceRow(registration_id=row.id, day=when.date(), checked_in_at=when)
            )
        return row.id

    async def workshop(
        self, factory_id: int, starts_at: datetime, *, cancelled: bool = False
    ) -> int:
        row = WorkshopRow(
            factory_id=factory_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            topic="远距离也能亲近孩子",
            language="zh_Hans",
            capacity=20,
            door_code=f"D{next(CODES):05d}",
            cancelled_at=starts_at - timedelta(days=1) if cancelled else None,
        )
        await self.add(row)
        return row.id

    async def booking(
        self, workshop: int, person: int, status: str, *, came: bool = False, rating: int = 0
    ) -> None:
        row = BookingRow(
            workshop_id=workshop,
            person_id=person,
            status=status,
            code=f"B{next(CODES):05d}",
            checked_in_at=NOW - timedelta(days=30) if came else None,
        )
        await self.add(row)
        if rating:
            await self.add(FeedbackRow(booking_id=row.id, rating=rating, comment="王秀英说很好"))

    async def role(self, person: int, role: str, factory_id: int | None = None) -> None:
        await self.add(RoleRow(person_id=person, role=role, factory_id=factory_id))


async def programme(uow: UnitOfWork) -> Ids:
    """Three factories in 2018: A returning and self-funded; B and C new and sponsored."""
    b = Builder(uow)
    fa, fb, fc = (
        await b.factory("AA01", "深圳龙岗欢乐玩具厂"),
        await b.factory("BB01", "东莞长安彩虹玩具厂"),
        await b.factory("CC01", "河源新港玩具厂"),
    )
    await b.factory("DD01", "韶关曲江玩偶厂")  # no space and no workshop: not in the report
    a2017, a2018 = await b.season(fa, 2017), await b.season(fa, 2018)
    b2018 = await b.season(fb, 2018, ("LEGO", "Target"))
    c2018 = await b.season(fc, 2018, ("LEGO",))
    await b.season(fc, 2019)  # a later season makes nobody returning in 2018

    p = [await b.person(name, fa if i < 4 else fb) for i, name in enumerate(PARENT_NAMES)]
    # A: two parents with two children (each parent counted once), one of them came;
    # a third parent whose child waits, so is no parent of a confirmed child.
    k1 = await b.child(CHILD_NAMES[0], p[0], p[1])
    k2 = await b.child(CHILD_NAMES[1], p[0], p[1])
    k3 = await b.child(CHILD_NAMES[2], p[2])
    await b.register(a2017, k1, "confirmed", days=5)  # last year: not counted in 2018
    await b.register(a2018, k1, "confirmed", days=3)
    await b.register(a2018, k2, "confirmed")
    await b.register(a2018, k3, "waitlisted")
    # B: a child cancelled and registered again (one child), and a parent with two children,
    # one of them at C too: the totals count that parent once.
    k4 = await b.child(CHILD_NAMES[3], p[4])
    await b.register(b2018, k4, "cancelled")
    await b.register(b2018, k4, "confirmed", days=1)
    k5 = await b.child(CHILD_NAMES[4], p[5])
    k6 = await b.child(CHILD_NAMES[5], p[5], p[6])
    await b.register(b2018, k5, "confirmed")
    await b.register(c2018, k6, "confirmed", days=2)
    await b.register(b2018, await b.child(CHILD_NAMES[6], p[3]), "declined")

    held = await b.workshop(fa, datetime(2018, 7, 15, 1, tzinfo=UTC))
    await b.booking(held, p[0], "confirmed", came=True, rating=5)
    await b.booking(held, p[1], "confirmed", came=True, rating=4)
    await b.booking(held, p[2], "confirmed")
    await b.booking(held, p[3], "cancelled")
    await b.booking(held, p[4], "waitlisted")
    await b.workshop(fa, datetime(2018, 7, 22, 1, tzinfo=UTC), cancelled=True)
    await b.workshop(fa, datetime(2017, 7, 22, 1, tzinfo=UTC))  # last year
    soon = await b.workshop(fb, NOW + timedelta(days=3))  # not held yet
    await b.booking(soon, p[4], "confirmed")
    await b.workshop(
        await b.factory("EE01", "惠州惠阳童乐玩具厂"), datetime(2018, 3, 1, tzinfo=UTC)
    )

    await b.add(TipRow(id="t1", topic="play", text_zh="和孩子视频", text_en="Call"))
    for person, helpful, year in [
        (p[0], True, 2018),
        (p[1], True, 2018),
        (p[4], False, 2018),
        (p[5], None, 2018),
        (p[0], True, 2017),
    ]:
        await b.add(
            TipDeliveryRow(
                person_id=person,
                tip_id="t1",
                kind="scheduled",
                sent_at=datetime(year, 5, 1, tzinfo=UTC),
                helpful=helpful,
            )
        )

    ids = Ids(
        admin=await b.person("管理员"),
        coordinator_a=await b.person("协调员"),
        sponsor_b=await b.person("LEGO viewer"),
        nobody=p[0],
    )
    await b.role(ids.admin, "admin")
    await b.role(ids.coordinator_a, "coordinator", fa)
    await b.role(ids.sponsor_b, "sponsor", fb)
    return ids


@pytest.fixture
async def ids(backend: Backend) -> Ids:
    async with backend.db.uow() as uow:
        found = await programme(uow)
        await uow.commit()
    return found


async def report(backend: Backend, **kwargs: object) -> Report:
    async with backend.db.uow() as uow:
        return await programme_report(uow, year=2018, now=NOW, **kwargs)


async def test_the_year_is_counted_from_the_rows(backend: Backend, ids: Ids) -> None:
    found = (await report(backend)).to_json()
    by_factory = {f["code"]: f for f in found.pop("by_factory")}
    assert found == {
        "year": 2018,
        "factory": None,
        "factories": 3,
        "factories_new": 2,
        "factories_returning": 1,
        "factories_self_funded": 1,
        "factories_sponsored": 2,
        "sponsors": {"LEGO": ["BB01", "CC01"], "Target": ["BB01"]},
        "children_registered": 7,
        "children_confirmed": 5,
        "children_attended": 3,
        # Two at A, then B's and C's: the parent with a child at each counts once.
        "parents": 5,
        "workshops_held": 2,
        "seats_booked": 3,
        "workshop_attendees": 2,
        "average_rating": 4.5,
        "tips_sent": 4,
        "tips_helpful": 2,
    }
    assert list(by_factory) == ["AA01", "BB01", "CC01", "EE01"]
    a, b, c, e = by_factory.values()
    assert (a["returning"], a["funding"], a["sponsors"]) == (True, "self", [])
    assert (b["returning"], b["funding"], b["sponsors"]) == (False, "sponsor", ["LEGO", "Target"])
    assert (c["returning"], c["funding"]) == (False, "sponsor")
    # EE01 held a workshop but ran no space: in the table, not among the factories counted.
    assert (e["runs_ffs"], e["returning"], e["funding"], e["workshops_held"]) == (
        False,
        None,
        None,
        1,
    )
    assert [
        (f["children_registered"], f["children_confirmed"], f["children_attended"])
        for f in (
            a,
            b,
            c,
        )
    ] == [(3, 2, 1), (3, 2, 1), (1, 1, 1)]
    assert [f["parents"] for f in (a, b, c)] == [2, 2, 2]
    assert (a["workshops_held"], a["seats_booked"], a["workshop_attendees"]) == (1, 3, 2)
    assert a["average_rating"] == 4.5
    assert b["workshops_held"] == 0


async def test_earlier_and_later_years_are_their_own(backend: Backend, ids: Ids) -> None:
    async with backend.db.uow() as uow:
        earlier = await programme_report(uow, year=2017, now=NOW)
        later = await programme_report(uow, year=2019, now=NOW)
    assert [(f.code, f.returning, f.children_confirmed) for f in earlier.ffs_factories] == [
        ("AA01", False, 1)
    ]
    assert (earlier.workshops_held, earlier.tips_sent, earlier.tips_helpful) == (1, 1, 1)
    # C had a season in 2018, so in 2019 it is returning.
    assert [(f.code, f.returning) for f in later.ffs_factories] == [("CC01", True)]


async def test_each_viewer_sees_their_own_factories(backend: Backend, ids: Ids) -> None:
    admin = await report(backend, viewer_person_id=ids.admin)
    assert admin == await report(backend)
    coordinator = await report(backend, viewer_person_id=ids.coordinator_a)
    assert [f.code for f in coordinator.factories] == ["AA01"]
    assert (coordinator.children_confirmed, coordinator.parents, coordinator.tips_sent) == (
        2,
        2,
        2,
    )
    sponsor = await report(backend, viewer_person_id=ids.sponsor_b)
    assert [f.code for f in sponsor.factories] == ["BB01"]
    assert dict(sponsor.sponsors) == {"LEGO": ("BB01",), "Target": ("BB01",)}
    assert (sponsor.children_confirmed, sponsor.parents) == (2, 2)
    one = await report(backend, factory_code="bb01", viewer_person_id=ids.sponsor_b)
    assert one.factory_code == "BB01"
    assert [f.code for f in one.factories] == ["BB01"]


async def test_a_viewer_outside_the_scope_is_refused(backend: Backend, ids: Ids) -> None:
    with pytest.raises(Forbidden):
        await report(backend, viewer_person_id=ids.nobody)
    with pytest.raises(Forbidden):
        await report(backend, factory_code="AA01", viewer_person_id=ids.sponsor_b)
    with pytest.raises(NotFound):
        await report(backend, factory_code="ZZ99")


def _visible_text(found: Report) -> str:
    tables = report_tables(found)
    return "\n".join(
        [json.dumps(found.to_json(), ensure_ascii=False), *(text_table(t) for t in tables)]
    )


def _workbook_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content))
    return "\n".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


def _png_text(content: bytes) -> str:
    """The PNG's text chunks (metadata), where a name could hide outside the picture."""
    found, at = [], 8
    while at < len(content):
        length = int.from_bytes(content[at : at + 4], "big")
        kind = content[at + 4 : at + 8]
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            found.append(content[at + 8 : at + 8 + length].decode("latin-1"))
        at += 12 + length
    return "\n".join(found)


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_a_sponsor_sees_counts_and_never_a_name(
    backend: Backend, ids: Ids, translators: dict[str, Translator], language: str
) -> None:
    found = await report(backend, viewer_person_id=ids.sponsor_b)
    png = report_chart_file(found, translators[language])
    xlsx = report_workbook(found, translators[language])
    drawn = [t.get_text() for t in report_figure(found).findobj(Text)]
    text = "\n".join(
        [_visible_text(found), _workbook_text(xlsx.content), *drawn, _png_text(png.content)]
    )
    assert "BB01" in text and "东莞长安彩虹玩具厂 (BB01)" in drawn
    assert [word for word in PRIVATE if word in text] == []
    assert re.search(r"1[3-9]\d{9}", text) is None  # nothing like a mobile number
    assert "AA01" not in text and "CC01" not in text


@contextmanager
def counting(backend: Backend) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(backend.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(backend.engine.sync_engine, "before_cursor_execute", count)


async def test_the_number_of_queries_does_not_grow_with_the_factories(
    backend: Backend, ids: Ids
) -> None:
    with counting(backend) as few:
        await report(backend, viewer_person_id=ids.admin)
    async with backend.db.uow() as uow:
        b = Builder(uow)
        for n in range(30):
            factory = await b.factory(f"MORE{n:02d}", "更多玩具厂")
            season = await b.season(factory, 2018, ("LEGO",) if n % 2 else ())
            parent = await b.person(f"家长{n}", factory)
            await b.register(season, await b.child(f"孩子{n}", parent), "confirmed", days=1)
            await b.workshop(factory, datetime(2018, 7, 1, tzinfo=UTC))
        await uow.commit()
    with counting(backend) as many:
        found = await report(backend, viewer_person_id=ids.admin)
    assert found.figures()["factories"] == 33
    assert found.children_confirmed == 35
    assert len(many) == len(few) <= 10
