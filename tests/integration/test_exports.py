"""Roster and attendance tables from a real database: order, content, time zone and scope."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from ffs_bot.db.tables import ChildRow, FactoryRow, RegistrationRow
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.exports import (
    attendance_table,
    bookings_table,
    registrations_table,
    workshop_attendance_table,
)
from ffs_bot.i18n import Translator
from ffs_bot.model import Relationship, RoleName
from ffs_bot.services import season_admin, workshops
from ffs_bot.services.children import (
    check_invite,
    create_invite,
    join_child,
    rename_child,
    set_health_notes,
)
from ffs_bot.services.people import set_display_name
from ffs_bot.services.seasons import create_season
from ffs_bot.spreadsheets import Table, to_csv
from tests.conftest import Backend
from tests.helpers import seed_factories, works_at
from tests.integration.test_season_admin import staff
from tests.integration.test_seasons import SUMMER, families, register, season
from tests.integration.test_workshops import book, notifier, people

SZ_NAMES = ["Zhang Wei", "An Na", "Bo", "Chen", "Eve", "Dong"]
# Health notes take any text: a spreadsheet must not run this one.
HOSTILE_NOTES = '=HYPERLINK("http://evil.example","Click")'
FIRST_DAY, SECOND_DAY = date(2027, 7, 6), date(2027, 7, 7)


def at(day: date, hour: int, minute: int) -> datetime:
    """An aware UTC time on `day`; Shanghai is 8 hours ahead."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Programme:
    """Two factories' seasons with families in every state, and a few days checked in."""

    sz_season: int
    dg_season: int
    sz_coordinator: int
    dg_coordinator: int
    admin: int
    parent: int
    registrations: dict[str, int]


async def programme(backend: Backend) -> Programme:
    """Five children at SZ01 (pending, queued, placed, declined) and one placed at DG01."""
    db = backend.db
    await seed_factories(db)
    sz = await season(db, capacity=3, auto_confirm=False)
    async with db.uow() as uow:
        made_dg = await create_season(
            uow,
            factory_code="DG01",
            min_age_years=3,
            max_age_years=12,
            capacity=5,
            registration_deadline=date(2027, 6, 30),
            **SUMMER,
        )
        await uow.commit()
    dg = made_dg.id
    people = await families(db, 6)
    async with db.uow() as uow:
        for (person, child), name in zip(people, SZ_NAMES, strict=True):
            await rename_child(uow, person, child, name)
        (mother, first), (father, _second) = people[:2]
        await set_display_name(uow, mother, "Li Mei")
        await set_display_name(uow, father, "Zhang Lei")
        code, _expires = await create_invite(uow, mother, first)
        ticket = await check_invite(uow, backend.notify, father, code)
        await join_child(uow, backend.notify, father, ticket, relationship=Relationship.FATHER)
        await set_health_notes(uow, mother, first, "Peanut allergy")
        await set_health_notes(uow, *people[4], HOSTILE_NOTES)
        child = await uow.session.get(ChildRow, people[1][1])
        assert child is not None
        child.gender = "girl"
        await uow.commit()
    names = dict(zip(SZ_NAMES, people, strict=True))
    made: dict[str, int] = {}
    # Three seats for Zhang Wei, An Na and Bo (requested); Chen and Eve queue.
    for name in SZ_NAMES[:5]:
        person, child = names[name]
        made[name] = (await register(db, person, child, sz)).id
    person, child = names["Dong"]
    await works_at(db, person, "DG01")
    made["Dong"] = (await register(db, person, child, dg)).id
    sz_coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    dg_coordinator = await staff(backend, "c-dg01", RoleName.COORDINATOR, "DG01")
    admin = await staff(backend, "admin", RoleName.ADMIN)
    async with db.uow() as uow:
        for name in ("Zhang Wei", "An Na"):
            await season_admin.confirm_registration(
                uow, backend.notify, sz_coordinator, made[name]
            )
        await season_admin.decline_registration(
            uow, backend.notify, sz_coordinator, made["Chen"], "Too young this year"
        )
        # Checked in out of order: the export sorts by day, then name.
        zhang, an, dong = made["Zhang Wei"], made["An Na"], made["Dong"]
        await season_admin.check_in(uow, sz_coordinator, zhang, SECOND_DAY, at(SECOND_DAY, 0, 30))
        await season_admin.check_in(uow, sz_coordinator, an, SECOND_DAY, at(SECOND_DAY, 1, 0))
        await season_admin.check_out(uow, sz_coordinator, an, SECOND_DAY, at(SECOND_DAY, 9, 45))
        await season_admin.check_in(uow, sz_coordinator, zhang, FIRST_DAY, at(FIRST_DAY, 23, 59))
        await season_admin.check_in(uow, dg_coordinator, dong, FIRST_DAY, at(FIRST_DAY, 1, 15))
        await uow.commit()
    return Programme(sz, dg, sz_coordinator, dg_coordinator, admin, people[0][0], made)


async def test_registrations_come_pending_first_with_guardians_notes_and_local_times(
    backend: Backend,
) -> None:
    p = await programme(backend)
    async with backend.db.uow() as uow:
        table = await registrations_table(uow, actor_person_id=None, factory_code="sz01")
        registered = await uow.session.get(RegistrationRow, p.registrations["Bo"])
        assert registered is not None
    assert table.title == "Registrations"
    assert table.header == (
        "Factory",
        "Season",
        "Season starts",
        "Season ends",
        "Child",
        "Birth month",
        "Age at start",
        "Gender",
        "Guardians",
        "Status",
        "First day",
        "Last day",
        "Registered at",
        "Reason",
        "Health notes",
    )
    assert [(row[4], row[9]) for row in table.rows] == [
        ("Bo", "Requested"),
        ("Eve", "Waiting list"),
        ("Zhang Wei", "Confirmed"),
        ("An Na", "Confirmed"),
        ("Chen", "Declined"),
    ]
    local = registered.created_at.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert table.rows[0] == (
        "SZ01",
        p.sz_season,
        date(2027, 7, 5),
        date(2027, 8, 20),
        "Bo",
        "2019-04",
        8,  # born April 2019, the season starts in July 2027
        None,
        "",  # this parent never gave a name
        "Requested",
        date(2027, 7, 5),
        date(2027, 8, 20),
        local,
        "",
        None,
    )
    eve, zhang, an, chen = table.rows[1:]
    assert eve[14] == HOSTILE_NOTES
    assert (zhang[8], zhang[14]) == ("Li Mei; Zhang Lei", "Peanut allergy")
    assert (an[7], an[8]) == ("Girl", "Zhang Lei")
    assert chen[13] == "Too young this year"


async def test_attendance_has_a_row_per_child_and_day_in_the_factorys_time(
    backend: Backend,
) -> None:
    p = await programme(backend)
    async with backend.db.uow() as uow:
        table = await attendance_table(uow, actor_person_id=None)
    assert table.title == "Attendance"
    assert table.header == ("Factory", "Season", "Day", "Child", "Checked in", "Checked out")
    assert table.rows == [
        ("DG01", p.dg_season, FIRST_DAY, "Dong", time(9, 15), None),
        # 23:59 UTC is 07:59 the next morning in Shanghai.
        ("SZ01", p.sz_season, FIRST_DAY, "Zhang Wei", time(7, 59), None),
        ("SZ01", p.sz_season, SECOND_DAY, "An Na", time(9, 0), time(17, 45)),
        ("SZ01", p.sz_season, SECOND_DAY, "Zhang Wei", time(8, 30), None),
    ]


async def test_staff_export_only_their_own_factories_and_the_operator_every_one(
    backend: Backend,
) -> None:
    p = await programme(backend)
    sponsor = await staff(backend, "brand", RoleName.SPONSOR, "SZ01")
    async with backend.db.uow() as uow:

        async def factories(actor: int | None, **where: object) -> set[object]:
            rows = (await registrations_table(uow, actor_person_id=actor, **where)).rows
            rows += (await attendance_table(uow, actor_person_id=actor, **where)).rows
            return {row[0] for row in rows}

        assert await factories(None) == {"SZ01", "DG01"}
        assert await factories(p.admin) == {"SZ01", "DG01"}
        assert await factories(p.sz_coordinator) == {"SZ01"}
        assert await factories(p.dg_coordinator) == {"DG01"}
        assert await factories(p.dg_coordinator, factory_code="DG01") == {"DG01"}
        assert await factories(p.sz_coordinator, season_id=p.sz_season) == {"SZ01"}
        for build in (registrations_table, attendance_table):
            with pytest.raises(Forbidden):
                await build(uow, actor_person_id=p.dg_coordinator, factory_code="SZ01")
            with pytest.raises(Forbidden):
                await build(uow, actor_person_id=p.dg_coordinator, season_id=p.sz_season)
            for outsider in (p.parent, sponsor):
                with pytest.raises(Forbidden):
                    await build(uow, actor_person_id=outsider)


@pytest.mark.parametrize("actor", ["operator", "admin"])
async def test_an_unknown_factory_or_season_or_one_elsewhere_is_not_found(
    backend: Backend, actor: str
) -> None:
    p = await programme(backend)
    person = None if actor == "operator" else p.admin
    async with backend.db.uow() as uow:
        for build in (registrations_table, attendance_table):
            with pytest.raises(NotFound, match="NOPE"):
                await build(uow, actor_person_id=person, factory_code="nope")
            with pytest.raises(NotFound, match="9999"):
                await build(uow, actor_person_id=person, season_id=9999)
            with pytest.raises(NotFound, match=f"season {p.sz_season} at factory DG01"):
                await build(
                    uow, actor_person_id=person, factory_code="DG01", season_id=p.sz_season
                )
        # A factory with no season yet is simply empty.
        assert (
            await registrations_table(uow, actor_person_id=person, factory_code="SZ02")
        ).rows == []


class Marked(gettext.NullTranslations):
    """Translations that show which texts went through the catalog."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"


async def test_a_translator_translates_headers_statuses_and_genders_but_not_names(
    backend: Backend,
) -> None:
    p = await programme(backend)
    marked = Translator("zh_Hans", Marked())
    async with backend.db.uow() as uow:
        roster = await registrations_table(
            uow, actor_person_id=p.sz_coordinator, season_id=p.sz_season, translator=marked
        )
        attendance = await attendance_table(
            uow, actor_person_id=p.sz_coordinator, translator=marked
        )
    for table in (roster, attendance):
        assert table.title.startswith("«") and table.title.endswith("»")
        assert all(label.startswith("«") for label in table.header)
    an = roster.rows[3]
    assert (an[4], an[7], an[9], an[13]) == ("An Na", "«Girl»", "«Confirmed»", "")
    assert roster.rows[4][13] == "Too young this year"  # the coordinator's own words
    assert attendance.rows[0][3] == "Zhang Wei"


async def test_a_lapsed_offer_reads_as_a_reason_not_a_code(backend: Backend) -> None:
    p = await programme(backend)
    async with backend.db.uow() as uow:
        row = await uow.session.get(RegistrationRow, p.registrations["Bo"])
        assert row is not None
        row.status, row.reason = "cancelled", "offer_expired"
        await uow.commit()
    async with backend.db.uow() as uow:
        table = await registrations_table(uow, actor_person_id=None, season_id=p.sz_season)
    assert [(r[4], r[9], r[13]) for r in table.rows if r[4] == "Bo"] == [
        ("Bo", "Cancelled", "Offer expired")
    ]


# --- workshops ----------------------------------------------------------------------------

WORKSHOP_START = datetime(2027, 7, 14, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Shenzhen
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class WorkshopProgramme:
    """Three workshops to come at two factories, one from over a year ago, and who booked."""

    start: datetime
    morning: int  # SZ01, the first day 09:00-12:00
    dg: int  # DG01, the next day 09:00-12:00
    afternoon: int  # SZ01, the next day 14:00-17:00
    old: int  # SZ01, 400 days before
    codes: dict[str, str]  # "workshop:person" -> booking code
    sz_coordinator: int
    dg_coordinator: int
    admin: int
    parent: int

    def local(self, days: int, hour: int, minute: int = 0) -> datetime:
        """Shanghai's wall-clock time `days` after the first day, naive."""
        day = self.start.astimezone(SHANGHAI) + timedelta(days=days)
        return day.replace(hour=hour, minute=minute, tzinfo=None)


async def workshop_programme(
    backend: Backend, translators: dict[str, Translator], start: datetime = WORKSHOP_START
) -> WorkshopProgramme:
    """Seats, a queue, an offer, a cancelled booking, check-ins and ratings, as workers do."""
    db = backend.db
    await seed_factories(db)
    notify = notifier(backend, translators)
    planned_at = start - timedelta(days=13)

    async def plan(factory: str, starts_at: datetime, capacity: int, topic: str) -> int:
        async with db.uow() as uow:
            made = await workshops.create_workshop(
                uow,
                factory_code=factory,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                topic=topic,
                language="zh_Hans",
                capacity=capacity,
                now=min(planned_at, starts_at - timedelta(days=1)),
            )
            await uow.commit()
        return made.id

    morning = await plan("SZ01", start, 2, "远距离也能亲近孩子：视频通话怎么聊")
    dg = await plan("DG01", start + timedelta(days=1), 10, "照顾好自己：压力与睡眠")
    afternoon = await plan("SZ01", start + timedelta(days=1, hours=5), 1, "孩子的暑假安全")
    old = await plan("SZ01", start - timedelta(days=400), 10, "Last year")
    zhang, li, an, dong, parent = await people(backend, 5)
    await works_at(db, dong, "DG01")
    async with db.uow() as uow:
        for person, name in ((zhang, "Zhang Lei"), (li, "Li Mei"), (dong, "Dong")):
            await set_display_name(uow, person, name)
        await uow.commit()
    codes: dict[str, str] = {}

    async def booked(key: str, person: int, workshop_id: int, now: datetime) -> int:
        made = await book(backend, notify, person, workshop_id, now)
        codes[key] = made.code
        return made.id

    zhang_morning = await booked("morning:Zhang Lei", zhang, morning, planned_at)
    li_morning = await booked("morning:Li Mei", li, morning, planned_at)
    await booked("morning:An", an, morning, planned_at)  # no seat left: queued
    await booked("dg:Dong", dong, dg, planned_at)
    # Zhang gives up the afternoon's one seat: Li, first in the queue, is offered it.
    zhang_afternoon = await booked("afternoon:Zhang Lei", zhang, afternoon, planned_at)
    await booked("afternoon:Li Mei", li, afternoon, planned_at)
    await booked("afternoon:An", an, afternoon, planned_at)
    zhang_old = await booked("old:Zhang Lei", zhang, old, start - timedelta(days=401))
    sz_coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    dg_coordinator = await staff(backend, "c-dg01", RoleName.COORDINATOR, "DG01")
    admin = await staff(backend, "admin", RoleName.ADMIN)
    minutes = timedelta(minutes=1)
    async with db.uow() as uow:
        await workshops.cancel_booking(uow, notify, zhang, zhang_afternoon, planned_at)
        # Li comes after Zhang, then leaves and cancels: she came all the same.
        for code, at_time in ((codes["morning:Zhang Lei"], -5), (codes["morning:Li Mei"], 10)):
            await workshops.check_in_by_code(
                uow, sz_coordinator, morning, code, start + at_time * minutes
            )
        await workshops.cancel_booking(uow, notify, li, li_morning, start + 30 * minutes)
        await workshops.check_in_by_code(
            uow, dg_coordinator, dg, codes["dg:Dong"], start + timedelta(days=1, minutes=2)
        )
        await workshops.check_in_by_code(
            uow, sz_coordinator, old, codes["old:Zhang Lei"], start - timedelta(days=400)
        )
        await workshops.rate(uow, zhang, zhang_morning, 5)
        await workshops.add_comment(uow, zhang, zhang_morning, HOSTILE_NOTES)
        await workshops.rate(uow, li, li_morning, 3)
        await workshops.rate(uow, zhang, zhang_old, 4)
        await uow.commit()
    return WorkshopProgramme(
        start, morning, dg, afternoon, old, codes, sz_coordinator, dg_coordinator, admin, parent
    )


# The morning after the first workshop: two to come, and the old one over a year ago.
EXPORTED_AT = WORKSHOP_START + timedelta(hours=12)


async def test_bookings_come_by_workshop_start_seats_then_queue_in_the_factorys_time(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    async with backend.db.uow() as uow:
        table = await bookings_table(uow, actor_person_id=None, now=EXPORTED_AT)
    assert table.title == "Workshop bookings"
    assert table.header == (
        "Factory",
        "Workshop",
        "Day",
        "Starts",
        "Ends",
        "Topic",
        "Person",
        "Status",
        "Booking code",
        "Checked in",
        "Rating",
        "Comment",
    )
    first, second = date(2027, 7, 14), date(2027, 7, 15)
    morning = ("SZ01", w.morning, first, time(9), time(12), "远距离也能亲近孩子：视频通话怎么聊")
    dg = ("DG01", w.dg, second, time(9), time(12), "照顾好自己：压力与睡眠")
    afternoon = ("SZ01", w.afternoon, second, time(14), time(17), "孩子的暑假安全")
    c = w.codes
    # By start, not by factory; in each, seats, then offers, then the queue; Zhang's
    # cancelled afternoon booking is left out, Li's cancelled morning one is not: she came.
    assert table.rows == [
        (
            *morning,
            "Zhang Lei",
            "Confirmed",
            c["morning:Zhang Lei"],
            datetime(2027, 7, 14, 8, 55),
            5,
            HOSTILE_NOTES,
        ),
        (*morning, "", "Waiting list", c["morning:An"], None, None, None),
        (
            *morning,
            "Li Mei",
            "Cancelled",
            c["morning:Li Mei"],
            datetime(2027, 7, 14, 9, 10),
            3,
            None,
        ),
        (*dg, "Dong", "Confirmed", c["dg:Dong"], datetime(2027, 7, 15, 9, 2), None, None),
        (*afternoon, "Li Mei", "Offered a place", c["afternoon:Li Mei"], None, None, None),
        (*afternoon, "", "Waiting list", c["afternoon:An"], None, None, None),
    ]


async def test_workshop_attendance_has_a_row_per_person_checked_in_by_name(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    async with backend.db.uow() as uow:
        table = await workshop_attendance_table(uow, actor_person_id=None, now=EXPORTED_AT)
    assert table.title == "Workshop attendance"
    assert table.header == (
        "Factory",
        "Workshop",
        "Day",
        "Topic",
        "Person",
        "Checked in",
        "Rating",
    )
    first, second = date(2027, 7, 14), date(2027, 7, 15)
    topic = "远距离也能亲近孩子：视频通话怎么聊"
    # Li came after Zhang and booked after him, yet comes first: by name.
    assert table.rows == [
        ("SZ01", w.morning, first, topic, "Li Mei", datetime(2027, 7, 14, 9, 10), 3),
        ("SZ01", w.morning, first, topic, "Zhang Lei", datetime(2027, 7, 14, 8, 55), 5),
        (
            "DG01",
            w.dg,
            second,
            "照顾好自己：压力与睡眠",
            "Dong",
            datetime(2027, 7, 15, 9, 2),
            None,
        ),
    ]


async def test_workshops_reach_back_a_year_unless_one_workshop_is_asked_for(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    async with backend.db.uow() as uow:

        async def shown(build, **where: object) -> set[object]:
            table = await build(uow, actor_person_id=None, **where)
            return {row[1] for row in table.rows}

        for build in (bookings_table, workshop_attendance_table):
            assert w.old not in await shown(build, now=EXPORTED_AT)
            assert w.old not in await shown(build, factory_code="SZ01", now=EXPORTED_AT)
            assert await shown(build, workshop_id=w.old, now=EXPORTED_AT) == {w.old}
            # 400 days on, the workshops of this summer are out of reach too.
            later = EXPORTED_AT + timedelta(days=400)
            assert await shown(build, now=later) == set()
        old = await workshop_attendance_table(uow, actor_person_id=None, workshop_id=w.old)
    assert [row[4:] for row in old.rows] == [("Zhang Lei", w.local(-400, 9), 4)]


async def test_staff_export_the_workshops_of_their_own_factories_and_the_operator_every_one(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    sponsor = await staff(backend, "brand", RoleName.SPONSOR, "SZ01")
    async with backend.db.uow() as uow:

        async def factories(actor: int | None, **where: object) -> set[object]:
            rows = (
                await bookings_table(uow, actor_person_id=actor, now=EXPORTED_AT, **where)
            ).rows
            rows += (
                await workshop_attendance_table(
                    uow, actor_person_id=actor, now=EXPORTED_AT, **where
                )
            ).rows
            return {row[0] for row in rows}

        assert await factories(None) == {"SZ01", "DG01"}
        assert await factories(w.admin) == {"SZ01", "DG01"}
        assert await factories(w.sz_coordinator) == {"SZ01"}
        assert await factories(w.dg_coordinator) == {"DG01"}
        assert await factories(w.dg_coordinator, factory_code="dg01") == {"DG01"}
        assert await factories(w.sz_coordinator, workshop_id=w.afternoon) == {"SZ01"}
        for build in (bookings_table, workshop_attendance_table):
            with pytest.raises(Forbidden):
                await build(uow, actor_person_id=w.dg_coordinator, factory_code="SZ01")
            with pytest.raises(Forbidden):
                await build(uow, actor_person_id=w.dg_coordinator, workshop_id=w.morning)
            for outsider in (w.parent, sponsor):
                with pytest.raises(Forbidden):
                    await build(uow, actor_person_id=outsider)
                with pytest.raises(Forbidden):
                    await build(uow, actor_person_id=outsider, workshop_id=w.morning)


@pytest.mark.parametrize("actor", ["operator", "admin"])
async def test_an_unknown_factory_or_workshop_or_one_elsewhere_is_not_found(
    backend: Backend, translators: dict[str, Translator], actor: str
) -> None:
    w = await workshop_programme(backend, translators)
    person = None if actor == "operator" else w.admin
    async with backend.db.uow() as uow:
        for build in (bookings_table, workshop_attendance_table):
            with pytest.raises(NotFound, match="NOPE"):
                await build(uow, actor_person_id=person, factory_code="nope")
            with pytest.raises(NotFound, match="workshop 9999"):
                await build(uow, actor_person_id=person, workshop_id=9999)
            with pytest.raises(NotFound, match=f"workshop {w.morning} at factory DG01"):
                await build(
                    uow, actor_person_id=person, factory_code="DG01", workshop_id=w.morning
                )
            # A factory with no workshop yet is simply empty.
            assert (await build(uow, actor_person_id=person, factory_code="SZ02")).rows == []


async def test_a_translator_translates_workshop_headers_and_statuses_but_not_names_or_topics(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    marked = Translator("zh_Hans", Marked())
    async with backend.db.uow() as uow:
        bookings = await bookings_table(
            uow, actor_person_id=w.sz_coordinator, workshop_id=w.afternoon, translator=marked
        )
        attended = await workshop_attendance_table(
            uow, actor_person_id=w.sz_coordinator, workshop_id=w.morning, translator=marked
        )
    for table in (bookings, attended):
        assert table.title.startswith("«") and table.title.endswith("»")
        assert all(label.startswith("«") for label in table.header)
    assert [(row[5], row[6], row[7]) for row in bookings.rows] == [
        ("孩子的暑假安全", "Li Mei", "«Offered a place»"),
        ("孩子的暑假安全", "", "«Waiting list»"),
    ]
    assert [row[4] for row in attended.rows] == ["Li Mei", "Zhang Lei"]


# --- the whole programme, as the operator's files ----------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


async def move_dg01_to_new_york(backend: Backend) -> None:
    """DG01 in another time zone, with summer time: each factory's rows in its own."""
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(FactoryRow).where(FactoryRow.code == "DG01").values(timezone=NEW_YORK.key)
        )
        await uow.commit()


def csv_lines(table: Table) -> list[str]:
    """The table as the CSV file's lines, quoting and all."""
    text = to_csv(table).decode("utf-8")
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    return text[1:].split("\r\n")[:-1]


async def test_the_whole_programme_as_csv_cell_by_cell(backend: Backend) -> None:
    p = await programme(backend)
    await move_dg01_to_new_york(backend)
    async with backend.db.uow() as uow:
        registrations = await registrations_table(uow, actor_person_id=None)
        attendance = await attendance_table(uow, actor_person_id=None)
        created = {
            row.id: row.created_at for row in await uow.session.scalars(select(RegistrationRow))
        }

    def registered(name: str, zone: ZoneInfo = SHANGHAI) -> str:
        return created[p.registrations[name]].astimezone(zone).strftime("%Y-%m-%d %H:%M")

    sz, dg = p.sz_season, p.dg_season
    summer = "2027-07-05,2027-08-20"
    hostile = '"\'=HYPERLINK(""http://evil.example"",""Click"")"'
    assert csv_lines(registrations) == [
        "Factory,Season,Season starts,Season ends,Child,Birth month,Age at start,Gender,"
        "Guardians,Status,First day,Last day,Registered at,Reason,Health notes",
        f"DG01,{dg},{summer},Dong,2019-04,8,,,Confirmed,{summer},{registered('Dong', NEW_YORK)},,",
        f"SZ01,{sz},{summer},Bo,2019-04,8,,,Requested,{summer},{registered('Bo')},,",
        f"SZ01,{sz},{summer},Eve,2019-04,8,,,Waiting list,{summer},{registered('Eve')},,"
        + hostile,
        f"SZ01,{sz},{summer},Zhang Wei,2019-04,8,,Li Mei; Zhang Lei,Confirmed,{summer},"
        f"{registered('Zhang Wei')},,Peanut allergy",
        f"SZ01,{sz},{summer},An Na,2019-04,8,Girl,Zhang Lei,Confirmed,{summer},"
        f"{registered('An Na')},,",
        f"SZ01,{sz},{summer},Chen,2019-04,8,,,Declined,{summer},{registered('Chen')},"
        "Too young this year,",
    ]
    assert csv_lines(attendance) == [
        "Factory,Season,Day,Child,Checked in,Checked out",
        # 01:15 UTC on 6 July is 21:15 the evening before in New York (summer time).
        f"DG01,{dg},2027-07-06,Dong,21:15,",
        f"SZ01,{sz},2027-07-06,Zhang Wei,07:59,",
        f"SZ01,{sz},2027-07-07,An Na,09:00,17:45",
        f"SZ01,{sz},2027-07-07,Zhang Wei,08:30,",
    ]


async def test_every_season_at_once_is_each_factorys_seasons_one_after_another(
    backend: Backend,
) -> None:
    p = await programme(backend)
    async with backend.db.uow() as uow:
        for build in (registrations_table, attendance_table):
            # The operator's and an admin's read every season at once; a coordinator's
            # read the seasons of their own factory.
            whole = (await build(uow, actor_person_id=None)).rows
            assert (await build(uow, actor_person_id=p.admin)).rows == whole
            dg = (await build(uow, actor_person_id=p.dg_coordinator)).rows
            sz = (await build(uow, actor_person_id=p.sz_coordinator)).rows
            assert dg and sz
            assert dg + sz == whole


async def test_the_workshops_of_the_whole_programme_as_csv_cell_by_cell(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    w = await workshop_programme(backend, translators)
    await move_dg01_to_new_york(backend)
    async with backend.db.uow() as uow:
        bookings = await bookings_table(uow, actor_person_id=None, now=EXPORTED_AT)
        attended = await workshop_attendance_table(uow, actor_person_id=None, now=EXPORTED_AT)
    c = w.codes
    morning = f"SZ01,{w.morning},2027-07-14,09:00,12:00,远距离也能亲近孩子：视频通话怎么聊"
    # 01:00 UTC on 15 July is 21:00 on the 14th in New York.
    dg = f"DG01,{w.dg},2027-07-14,21:00,00:00,照顾好自己：压力与睡眠"
    afternoon = f"SZ01,{w.afternoon},2027-07-15,14:00,17:00,孩子的暑假安全"
    hostile = '"\'=HYPERLINK(""http://evil.example"",""Click"")"'
    assert csv_lines(bookings) == [
        "Factory,Workshop,Day,Starts,Ends,Topic,Person,Status,Booking code,Checked in,"
        "Rating,Comment",
        f"{morning},Zhang Lei,Confirmed,{c['morning:Zhang Lei']},2027-07-14 08:55,5,{hostile}",
        f"{morning},,Waiting list,{c['morning:An']},,,",
        f"{morning},Li Mei,Cancelled,{c['morning:Li Mei']},2027-07-14 09:10,3,",
        f"{dg},Dong,Confirmed,{c['dg:Dong']},2027-07-14 21:02,,",
        f"{afternoon},Li Mei,Offered a place,{c['afternoon:Li Mei']},,,",
        f"{afternoon},,Waiting list,{c['afternoon:An']},,,",
    ]
    video = f"SZ01,{w.morning},2027-07-14,远距离也能亲近孩子：视频通话怎么聊"
    assert csv_lines(attended) == [
        "Factory,Workshop,Day,Topic,Person,Checked in,Rating",
        f"{video},Li Mei,2027-07-14 09:10,3",
        f"{video},Zhang Lei,2027-07-14 08:55,5",
        f"DG01,{w.dg},2027-07-14,照顾好自己：压力与睡眠,Dong,2027-07-14 21:02,",
    ]
