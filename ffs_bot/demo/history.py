"""The summer 2018 programme as history, so reports have a real year to count.

As the programme announced it: 18 factories ran a Family-Friendly Space in summer 2018, 11 of
them returning from 2016 or 2017 and paying for it themselves, 7 new ones sponsored by LEGO,
TÜV Rheinland and Target; 691 children had a place, and 788 parents. Here those are families
made up from a fixed seed (plausible names, some with two parents, some with two children),
registrations, days in the space, two parent workshops per factory with their bookings and
ratings, and tips sent that summer; `ffs-bot report --year 2018` counts them from the rows.

Rows go in with bulk INSERTs (a statement per table, not an object per row), so loading
takes a fraction of a second.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text, update

from ffs_bot.db.tables import (
    AttendanceRow,
    BookingRow,
    ChildRow,
    ConsentRow,
    FactoryRow,
    FeedbackRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    SeasonSponsorRow,
    SponsorRow,
    TipDeliveryRow,
    TipRow,
    WorkshopRow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import Relationship
from ffs_bot.privacy import (
    CHILD_CONSENT,
    CHILD_NOTICE_VERSION,
    PRIVACY_CONSENT,
    PRIVACY_NOTICE_VERSION,
)
from ffs_bot.services.seasons import Funding, RegistrationStatus
from ffs_bot.services.workshops import BookingStatus

__all__ = ["HISTORY_YEAR", "History", "load_history"]

HISTORY_YEAR = 2018
# Returning factories and the first summer each ran a space; they pay for it themselves.
RETURNING = {
    "SZ01": 2016,
    "SZ02": 2016,
    "DG01": 2016,
    "GZ01": 2016,
    "HY01": 2016,
    "DG02": 2017,
    "HZ01": 2017,
    "SG01": 2017,
    "SZ03": 2017,
    "DG03": 2017,
    "GZ02": 2017,
}
# The factories new in 2018, and who paid.
SPONSORED = {
    "SZ04": "LEGO",
    "DG04": "LEGO",
    "FS01": "LEGO",
    "ZS01": "TÜV Rheinland",
    "JM01": "TÜV Rheinland",
    "QY01": "Target",
    "ZH01": "Target",
}
# Families with a child placed in 2018 by (parents, children): 691 children, 788 parents.
FAMILY_SHAPES = {(1, 1): 334, (2, 1): 157, (1, 2): 60, (2, 2): 40}
# Families whose child did not get a place: not among the children or parents counted.
NOT_PLACED = {
    RegistrationStatus.WAITLISTED: 15,
    RegistrationStatus.CANCELLED: 12,
    RegistrationStatus.DECLINED: 10,
}
MIN_AGE, MAX_AGE = 3, 12
SHARE_NEVER_CAME = 0.07
WORKSHOP_TOPICS = (
    "远距离也能亲近孩子：视频通话怎么聊",
    "孩子的暑假安全",
    "表扬和规矩：和孩子好好说话",
    "照顾好自己：压力与睡眠",
)
TRAINERS = ("王丽老师", "陈静老师", "李老师", "Sarah Lin")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
MOTHERS = _words(
    "秀英 桂英 秀兰 玉兰 丽 敏 静 燕 红梅 海燕 春燕 小红 晓梅 丽娟 美玲 凤 霞 芳 娟 艳 "
    "玉梅 金凤 翠萍 慧 婷 雪梅 小燕 丽华 桂芳 淑珍"
)
FATHERS = _words(
    "建国 建华 国强 志强 伟 强 军 勇 杰 磊 涛 斌 明 超 海波 永强 德华 志明 俊 鹏 "
    "文斌 小军 建军 春生 金龙 海涛 立新 卫东 红兵 家豪"
)
# What families call their children: a pet name, or the full name.
NICKNAMES = _words(
    "乐乐 豆豆 果果 妞妞 甜甜 天天 小宝 贝贝 欢欢 朵朵 小雨 浩浩 轩轩 睿睿 萌萌 丁丁 笑笑 "
    "丫丫 壮壮 可可 佳佳 明明 阳阳 亮亮 宁宁 安安 小虎 小龙 思思 琪琪"
)
GIVEN = _words(
    "子轩 梓涵 浩然 欣怡 一诺 雨桐 宇轩 诗涵 俊熙 思琪 子涵 梓萱 博文 若曦 家乐 晨阳 "
    "佳怡 宇航 雨欣 天佑"
)


@dataclass(frozen=True, slots=True)
class History:
    """What the history added: 2018's spaces, and the children and parents placed in them."""

    spaces: int
    returning: int
    sponsored: int
    children: int
    parents: int


@dataclass
class _Family:
    """A made-up family: parents, children (birth year, month) and where and when they came."""

    factory: str
    parents: list[tuple[str, Relationship]]
    children: list[tuple[str, int, int, str]]
    status: str = RegistrationStatus.CONFIRMED
    # Earlier summers the children came too (those old enough).
    earlier: list[int] = field(default_factory=list)


def _summer(year: int) -> tuple[date, date]:
    """Monday of the second week of July to the Friday six weeks later."""
    first = date(year, 7, 8)
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    return start, start + timedelta(days=39)


def _weekdays(start: date, end: date) -> list[date]:
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


def _families(rng: random.Random, codes: Sequence[str]) -> list[_Family]:
    """Families with the shapes above, spread over the factories unevenly, as spaces are."""
    weights = [rng.uniform(0.6, 1.4) for _code in codes]
    shapes = [shape for shape, n in FAMILY_SHAPES.items() for _ in range(n)]
    shapes += [(1, 1)] * sum(NOT_PLACED.values())
    statuses = [RegistrationStatus.CONFIRMED.value] * sum(FAMILY_SHAPES.values())
    statuses += [status.value for status, n in NOT_PLACED.items() for _ in range(n)]
    families = []
    for (parents, children), status in zip(shapes, statuses, strict=True):
        surname = rng.choice(SURNAMES)
        father = (surname + rng.choice(FATHERS), Relationship.FATHER)
        mother = (rng.choice(SURNAMES) + rng.choice(MOTHERS), Relationship.MOTHER)
        family = _Family(
            factory=rng.choices(codes, weights)[0],
            parents=[mother, father] if parents == 2 else [rng.choice([mother, father])],
            children=[],
            status=status,
        )
        for _ in range(children):
            name = rng.choice(NICKNAMES) if rng.random() < 0.5 else surname + rng.choice(GIVEN)
            born = rng.randint(HISTORY_YEAR - MAX_AGE, HISTORY_YEAR - MIN_AGE)
            family.children.append((name, born, rng.randint(1, 12), rng.choice(["girl", "boy"])))
        since = RETURNING.get(family.factory)
        if since is not None and status == RegistrationStatus.CONFIRMED:
            # Half the families at a returning factory came before, some from its first year.
            family.earlier = [y for y in range(since, HISTORY_YEAR) if rng.random() < 0.5]
        families.append(family)
    rng.shuffle(families)
    return families


async def _insert(uow: UnitOfWork, row_type: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in bulk with the next free ids, and return those ids in order.

    Ids are given rather than returned: SQLite's RETURNING keeps no order, so SQLAlchemy would
    insert one row per statement to know which id went to which row.
    """
    if not rows:
        return []
    table = row_type.__table__
    if uow.dialect == "postgresql":
        # Nobody else takes ids between reading the last one and moving the sequence on.
        await uow.session.execute(text(f'LOCK TABLE "{table.name}" IN EXCLUSIVE MODE'))
    last = await uow.session.scalar(select(func.max(table.c.id))) or 0
    ids = list(range(last + 1, last + 1 + len(rows)))
    await uow.session.execute(
        insert(table), [{"id": i} | row for i, row in zip(ids, rows, strict=True)]
    )
    if uow.dialect == "postgresql":
        # Given ids leave the sequence behind: move it past them for the rows to come.
        await uow.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {ids[-1]})")
        )
    return ids


async def _insert_all(uow: UnitOfWork, row_type: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows in bulk when nothing refers to them."""
    if rows:
        # The table, not the class: Core inserts them all in one statement.
        await uow.session.execute(insert(row_type.__table__), rows)


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


async def load_history(uow: UnitOfWork, *, seed: int = HISTORY_YEAR) -> History:
    """Add the 2018 programme and the summers before it to the demo factories.

    The factories (those in `RETURNING` and `SPONSORED`) must exist; the tips library is used
    if loaded.
    """
    rng = random.Random(seed)
    codes = sorted({*RETURNING, *SPONSORED})
    found = await uow.session.execute(
        select(FactoryRow.code, FactoryRow.id, FactoryRow.timezone).where(
            FactoryRow.code.in_(codes)
        )
    )
    factories = {code: (factory_id, ZoneInfo(zone)) for code, factory_id, zone in found}
    missing = sorted(set(codes) - set(factories))
    if missing:
        raise ValueError(f"the demo history needs factories {', '.join(missing)}")
    families = _families(rng, codes)

    # Seasons: every summer each factory ran, with as many places as it filled (and no more
    # where children waited).
    placed: Counter[tuple[str, int]] = Counter()
    waiting = {f.factory for f in families if f.status == RegistrationStatus.WAITLISTED}
    for family in families:
        for year in [*family.earlier, HISTORY_YEAR]:
            if family.status == RegistrationStatus.CONFIRMED:
                placed[family.factory, year] += sum(
                    1 for _n, born, _m, _g in family.children if year - born >= MIN_AGE
                )
    seasons: dict[tuple[str, int], int] = {}
    keys = [
        (code, year) for code, since in RETURNING.items() for year in range(since, HISTORY_YEAR)
    ]
    keys += [(code, HISTORY_YEAR) for code in codes]
    season_rows = []
    for code, year in keys:
        starts, ends = _summer(year)
        taken = placed[code, year]
        full = year == HISTORY_YEAR and code in waiting
        season_rows.append(
            {
                "factory_id": factories[code][0],
                "starts_on": starts,
                "ends_on": ends,
                "min_age_years": MIN_AGE,
                "max_age_years": MAX_AGE,
                "capacity": taken if full else max(taken + rng.randint(0, 6), 10),
                "seats_taken": taken,
                "registration_deadline": starts - timedelta(days=9),
                "funding": (Funding.SPONSOR if code in SPONSORED else Funding.SELF).value,
                "registration_open": False,
                "place": "工厂活动室",
                "place_en": "Factory activity room",
                "created_at": _at(date(year, 5, 20), 10, 0, factories[code][1]),
            }
        )
    for key, season_id in zip(keys, await _insert(uow, SeasonRow, season_rows), strict=True):
        seasons[key] = season_id
    sponsor_ids = dict(
        zip(
            sorted(set(SPONSORED.values())),
            await _insert(uow, SponsorRow, [{"name": n} for n in sorted(set(SPONSORED.values()))]),
            strict=True,
        )
    )
    await _insert_all(
        uow,
        SeasonSponsorRow,
        [
            {"season_id": seasons[code, HISTORY_YEAR], "sponsor_id": sponsor_ids[name]}
            for code, name in SPONSORED.items()
        ],
    )

    # People and children, then who is whose, with the consents the chat would have asked.
    person_rows, child_rows = [], []
    for family in families:
        factory_id, zone = factories[family.factory]
        first_year = min([*family.earlier, HISTORY_YEAR])
        joined = _at(date(first_year, 6, rng.randint(1, 25)), rng.randint(8, 21), 0, zone)
        for name, _relationship in family.parents:
            person_rows.append(
                {
                    "display_name": name,
                    "language": "zh_Hans",
                    "factory_id": factory_id,
                    "onboarded_at": joined,
                    "created_at": joined,
                }
            )
        for name, born, month, gender in family.children:
            child_rows.append(
                {
                    "name": name,
                    "birth_year": born,
                    "birth_month": month,
                    "gender": gender,
                    "created_at": joined,
                    "updated_at": joined,
                }
            )
    person_ids = iter(await _insert(uow, PersonRow, person_rows))
    child_ids = iter(await _insert(uow, ChildRow, child_rows))
    guardian_rows, consent_rows, registration_rows = [], [], []
    # The parents of children placed in 2018, by factory.
    parents_at: dict[str, list[int]] = {}
    attendance_plan: list[tuple[str, int, bool]] = []
    for family in families:
        parents = [(next(person_ids), relationship) for _name, relationship in family.parents]
        children = [(next(child_ids), born) for _name, born, _m, _g in family.children]
        for person_id, _relationship in parents:
            consent_rows.append(
                {
                    "person_id": person_id,
                    "kind": PRIVACY_CONSENT,
                    "notice_version": PRIVACY_NOTICE_VERSION,
                    "granted": True,
                }
            )
        for child_id, born in children:
            for person_id, relationship in parents:
                guardian_rows.append(
                    {"child_id": child_id, "person_id": person_id, "relationship": relationship}
                )
                consent_rows.append(
                    {
                        "person_id": person_id,
                        "child_id": child_id,
                        "kind": CHILD_CONSENT,
                        "notice_version": CHILD_NOTICE_VERSION,
                        "granted": True,
                    }
                )
            for year in [*family.earlier, HISTORY_YEAR]:
                if year - born < MIN_AGE:
                    continue
                starts, ends = _summer(year)
                zone = factories[family.factory][1]
                confirmed = family.status == RegistrationStatus.CONFIRMED
                registration_rows.append(
                    {
                        "season_id": seasons[family.factory, year],
                        "child_id": child_id,
                        "registered_by": parents[0][0],
                        "status": family.status,
                        "starts_on": starts,
                        "ends_on": ends,
                        "reason": "" if confirmed or family.status != "declined" else "名额已满",
                        "decided_at": _at(starts - timedelta(days=12), 15, 30, zone),
                        "created_at": _at(starts - timedelta(days=20), 20, 10, zone),
                    }
                )
                came = confirmed and rng.random() >= SHARE_NEVER_CAME
                attendance_plan.append((family.factory, year, came))
        if family.status == RegistrationStatus.CONFIRMED:
            parents_at.setdefault(family.factory, []).extend(p for p, _r in parents)
    await _insert_all(uow, GuardianRow, guardian_rows)
    await _insert_all(uow, ConsentRow, consent_rows)
    registration_ids = await _insert(uow, RegistrationRow, registration_rows)

    # Days in the space: most children came on many of the weekdays, a few never.
    attendance_rows = []
    for registration_id, (code, year, came) in zip(registration_ids, attendance_plan, strict=True):
        if not came:
            continue
        zone = factories[code][1]
        weekdays = _weekdays(*_summer(year))
        for day in sorted(rng.sample(weekdays, rng.randint(4, len(weekdays)))):
            attendance_rows.append(
                {
                    "registration_id": registration_id,
                    "day": day,
                    "checked_in_at": _at(day, 7, rng.randint(30, 59), zone),
                    "checked_out_at": _at(day, 17, rng.randint(30, 59), zone),
                }
            )
    await _insert_all(uow, AttendanceRow, attendance_rows)

    await _add_workshops(uow, rng, factories, parents_at)
    placed_parents = [person_id for ids in parents_at.values() for person_id in ids]
    await _add_tips(uow, rng, placed_parents)
    confirmed_children = sum(
        len(f.children) for f in families if f.status == RegistrationStatus.CONFIRMED
    )
    return History(
        spaces=len(codes),
        returning=len(RETURNING),
        sponsored=len(SPONSORED),
        children=confirmed_children,
        parents=len(placed_parents),
    )


async def _add_workshops(
    uow: UnitOfWork,
    rng: random.Random,
    factories: dict[str, tuple[int, ZoneInfo]],
    parents_at: dict[str, list[int]],
) -> None:
    """Two Sunday workshops per factory that summer; parents booked, came and rated them."""
    keys: list[str] = []
    workshop_rows: list[dict[str, Any]] = []
    for code, (factory_id, zone) in sorted(factories.items()):
        for week, day in enumerate((date(HISTORY_YEAR, 7, 15), date(HISTORY_YEAR, 8, 5))):
            starts_at = _at(day, 9 if week == 0 else 14, 0, zone)
            keys.append(code)
            workshop_rows.append(
                {
                    "factory_id": factory_id,
                    "starts_at": starts_at,
                    "ends_at": starts_at + timedelta(hours=3),
                    "topic": rng.choice(WORKSHOP_TOPICS),
                    "language": "zh_Hans",
                    "capacity": 30,
                    "place": "食堂二楼培训室",
                    "place_en": "Training room, canteen 2nd floor",
                    "trainer": rng.choice(TRAINERS),
                    # History codes have a 1, which live codes never do: no clash.
                    "door_code": f"H{HISTORY_YEAR % 100}{len(workshop_rows):04d}",
                    "created_at": starts_at - timedelta(days=21),
                }
            )
    workshop_ids = await _insert(uow, WorkshopRow, workshop_rows)
    booking_rows: list[dict[str, Any]] = []
    rated: list[bool] = []
    for code, workshop_id, workshop in zip(keys, workshop_ids, workshop_rows, strict=True):
        people = parents_at.get(code, [])
        booked = rng.sample(people, min(len(people), rng.randint(18, 30)))
        for person_id in booked:
            came = rng.random() < 0.85
            booking_rows.append(
                {
                    "workshop_id": workshop_id,
                    "person_id": person_id,
                    "status": BookingStatus.CONFIRMED,
                    "code": f"B{HISTORY_YEAR % 100}{len(booking_rows):05d}",
                    "checked_in_at": workshop["starts_at"] - timedelta(minutes=rng.randint(0, 15))
                    if came
                    else None,
                    "created_at": workshop["starts_at"] - timedelta(days=rng.randint(1, 14)),
                }
            )
            rated.append(came and rng.random() < 0.6)
    booking_ids = await _insert(uow, BookingRow, booking_rows)
    await _insert_all(
        uow,
        FeedbackRow,
        [
            {"booking_id": booking_id, "rating": rng.choices([3, 4, 5], [1, 3, 5])[0]}
            for booking_id, with_rating in zip(booking_ids, rated, strict=True)
            if with_rating
        ],
    )
    # Both seat counts follow the bookings, as the live service keeps them.
    for workshop_id in workshop_ids:
        taken = sum(1 for b in booking_rows if b["workshop_id"] == workshop_id)
        await uow.session.execute(
            update(WorkshopRow).where(WorkshopRow.id == workshop_id).values(seats_taken=taken)
        )


async def _add_tips(uow: UnitOfWork, rng: random.Random, parents: list[int]) -> None:
    """Tips sent that summer to some of the parents, and what they said of them."""
    tips = sorted(await uow.session.scalars(select(TipRow.id)))
    if not tips:
        return
    rows = []
    for person_id in parents:
        if rng.random() >= 0.45:
            continue
        for sent in sorted(rng.sample(range(1, 90), rng.randint(2, 6))):
            sent_at = datetime(HISTORY_YEAR, 6, 1, 12, tzinfo=UTC) + timedelta(days=sent)
            helpful = rng.choices([True, False, None], [55, 12, 33])[0]
            rows.append(
                {
                    "person_id": person_id,
                    "tip_id": rng.choice(tips),
                    "kind": "scheduled",
                    "sent_at": sent_at,
                    "helpful": helpful,
                    "answered_at": None if helpful is None else sent_at + timedelta(hours=2),
                }
            )
    await _insert_all(uow, TipDeliveryRow, rows)
