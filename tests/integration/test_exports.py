"""Roster and attendance tables from a real database: order, content, time zone and scope."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ffs_bot.db.tables import ChildRow, RegistrationRow
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.exports import attendance_table, registrations_table
from ffs_bot.i18n import Translator
from ffs_bot.model import Relationship, RoleName
from ffs_bot.services import season_admin
from ffs_bot.services.children import (
    create_invite,
    join_child,
    rename_child,
    set_health_notes,
)
from ffs_bot.services.people import set_display_name
from ffs_bot.services.seasons import create_season
from tests.conftest import Backend
from tests.helpers import seed_factories
from tests.integration.test_season_admin import staff
from tests.integration.test_seasons import SUMMER, families, register, season

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
        await join_child(uow, father, code, relationship=Relationship.FATHER)
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
