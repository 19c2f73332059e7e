"""Parenting tips: the library in the database, subscriptions, choosing and sending tips.

A subscription is a row with the next time a tip is due. The worker claims due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), records the delivery, queues the tip in the outbox
under a key naming the person and the slot, and moves the row to the next slot, all in one
transaction: a tip goes out once, after a restart too, whatever the number of workers.
Tips are sent only at hours from 07:00 to 21:00 local time, never in quiet hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Column, ScalarSelect, and_, bindparam, case, func, insert, select, update

from ffs_bot.db.sql import table_of, upsert
from ffs_bot.db.tables import (
    ChildRow,
    FactoryRow,
    GuardianRow,
    PersonRow,
    TipDeliveryRow,
    TipRow,
    TipSubscriptionRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import Translator, Translators
from ffs_bot.messages import Choice, Reply
from ffs_bot.model import age_in_months
from ffs_bot.notices import tell_people
from ffs_bot.services.audit import record_event
from ffs_bot.services.staff import staff_scope
from ffs_bot.tips import TipEntry

__all__ = [
    "HOURS",
    "Frequency",
    "Subscription",
    "TipFigures",
    "TipWords",
    "answer_helpful",
    "get_subscription",
    "import_tips",
    "next_slot",
    "render_tip",
    "send_due_tips",
    "stop_tips",
    "subscribe",
    "take_tip",
    "tip_figures",
    "tip_payload",
]

HOURS = range(7, 22)  # 07:00 to 21:00: never in the quiet hours from 22:00 to 07:00
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Frequency(StrEnum):
    """How often tips come."""

    DAILY = "daily"
    TWICE_WEEKLY = "twice_weekly"  # Wednesday and Sunday
    WEEKLY = "weekly"  # Sunday, the day most factories rest


WEEKDAYS = {
    Frequency.DAILY: frozenset(range(7)),
    Frequency.TWICE_WEEKLY: frozenset({2, 6}),
    Frequency.WEEKLY: frozenset({6}),
}


@dataclass(frozen=True, slots=True)
class Subscription:
    """A person's tip settings."""

    frequency: Frequency
    hour: int
    active: bool
    next_at: datetime
    timezone: str


@dataclass(frozen=True, slots=True)
class TipFigures:
    """How often a tip (or a topic) was sent and found helpful."""

    key: str
    topic: str
    sent: int
    helpful: int
    not_helpful: int
    # A tip's own words, so a person sees what it says rather than its id; "" for a topic.
    text_zh: str = ""
    text_en: str = ""


@dataclass(frozen=True, slots=True)
class TipWords:
    """What a tip says, in both languages."""

    text_zh: str
    text_en: str
    follow_up_zh: str
    follow_up_en: str


def tip_payload(answer: str, delivery_id: int) -> str:
    """The payload of a tip's "was this helpful?" buttons ("y" or "n")."""
    return f"tip:{answer}:{delivery_id}"


def next_slot(after: datetime, frequency: Frequency, hour: int, timezone: str) -> datetime:
    """The first time after `after` at `hour` local time on one of the frequency's days."""
    zone = ZoneInfo(timezone)
    day = after.astimezone(zone).date()
    for offset in range(8):
        candidate = datetime.combine(day + timedelta(days=offset), time(hour), zone)
        if candidate.weekday() in WEEKDAYS[frequency] and candidate > after:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("every frequency has a day in each week")


async def import_tips(uow: UnitOfWork, entries: list[TipEntry]) -> tuple[int, int]:
    """Add new tips and update those whose id exists; return (added, updated)."""
    known = set(await uow.session.scalars(select(TipRow.id)))
    for entry in entries:
        await upsert(
            uow,
            TipRow,
            {
                "id": entry.id,
                "topic": entry.topic,
                "min_months": entry.min_months,
                "max_months": entry.max_months,
                "text_zh": entry.text_zh,
                "text_en": entry.text_en,
                "follow_up_zh": entry.follow_up_zh,
                "follow_up_en": entry.follow_up_en,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            },
            ["id"],
            [
                "topic",
                "min_months",
                "max_months",
                "text_zh",
                "text_en",
                "follow_up_zh",
                "follow_up_en",
                "updated_at",
            ],
        )
    added = sum(1 for entry in entries if entry.id not in known)
    return added, len(entries) - added


async def _timezone(uow: UnitOfWork, person_id: int) -> str:
    zone = await uow.session.scalar(
        select(FactoryRow.timezone)
        .join(PersonRow, PersonRow.factory_id == FactoryRow.id)
        .where(PersonRow.id == person_id)
    )
    return zone or DEFAULT_TIMEZONE


async def get_subscription(uow: UnitOfWork, person_id: int) -> Subscription | None:
    """The person's tip settings, if they ever subscribed."""
    row = await uow.session.get(TipSubscriptionRow, person_id)
    if row is None:
        return None
    return Subscription(
        Frequency(row.frequency),
        row.hour,
        row.active,
        row.next_at,
        await _timezone(uow, person_id),
    )


async def subscribe(
    uow: UnitOfWork,
    person_id: int,
    frequency: Frequency,
    hour: int,
    now: datetime | None = None,
) -> Subscription:
    """Start tips (or change how often and when); the first comes at the next such time.

    Raises:
        InvalidInput: "hour" outside 07 to 21.
    """
    if hour not in HOURS:
        raise InvalidInput("hour")
    zone = await _timezone(uow, person_id)
    due = next_slot(now or utcnow(), frequency, hour, zone)
    await upsert(
        uow,
        TipSubscriptionRow,
        {
            "person_id": person_id,
            "frequency": frequency.value,
            "hour": hour,
            "active": True,
            "next_at": due,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        ["person_id"],
        ["frequency", "hour", "active", "next_at", "updated_at"],
    )
    await record_event(
        uow, "tips.subscribed", actor_person_id=person_id, frequency=frequency.value, hour=hour
    )
    return Subscription(frequency, hour, True, due, zone)


async def stop_tips(uow: UnitOfWork, person_id: int) -> bool:
    """Stop the person's tips; return whether they were coming."""
    result = await uow.session.execute(
        update(TipSubscriptionRow)
        .where(TipSubscriptionRow.person_id == person_id, TipSubscriptionRow.active.is_(True))
        .values(active=False)
    )
    stopped = bool(getattr(result, "rowcount", 0))
    if stopped:
        await record_event(uow, "tips.stopped", actor_person_id=person_id)
    return stopped


async def _family(uow: UnitOfWork, person_id: int) -> tuple[str, list[tuple[int, int]]]:
    """The person's timezone and their children's birth months, in one statement."""
    rows = (
        await uow.session.execute(
            select(FactoryRow.timezone, ChildRow.birth_year, ChildRow.birth_month)
            .select_from(PersonRow)
            .outerjoin(FactoryRow, FactoryRow.id == PersonRow.factory_id)
            .outerjoin(GuardianRow, GuardianRow.person_id == PersonRow.id)
            .outerjoin(
                ChildRow, and_(ChildRow.id == GuardianRow.child_id, ChildRow.erased_at.is_(None))
            )
            .where(PersonRow.id == person_id)
        )
    ).all()
    zone = next((zone for zone, _year, _month in rows if zone), DEFAULT_TIMEZONE)
    births = [(year, month) for _zone, year, month in rows if year is not None]
    return zone, births


async def _choose(
    uow: UnitOfWork, person_id: int, births: list[tuple[int, int]], today: date
) -> str | None:
    """A tip for the children's ages not sent to the person yet, else the one sent longest ago.

    With no children, or no tip for their ages, the tips about the parent fit.
    """
    ages = [age_in_months(year, month, today.year, today.month) for year, month in births]
    # The library, each tip with when the person last had it (every tip they had is in it).
    rows = (
        await uow.session.execute(
            select(
                TipRow.id, TipRow.min_months, TipRow.max_months, func.max(TipDeliveryRow.sent_at)
            )
            .outerjoin(
                TipDeliveryRow,
                and_(TipDeliveryRow.tip_id == TipRow.id, TipDeliveryRow.person_id == person_id),
            )
            .group_by(TipRow.id, TipRow.min_months, TipRow.max_months)
        )
    ).all()
    fitting = []
    for tip_id, low, high, _sent in rows:
        if low is None or high is None:
            if not ages:
                fitting.append(tip_id)
        elif any(low <= age <= high for age in ages):
            fitting.append(tip_id)
    if not fitting:  # no tip for these ages yet: the parent's own are always right
        fitting = [tip_id for tip_id, low, _high, _sent in rows if low is None]
    if not fitting:
        return None
    fitting.sort()
    last_sent = {tip_id: sent for tip_id, _low, _high, sent in rows if sent is not None}
    fresh = [tip_id for tip_id in fitting if tip_id not in last_sent]
    if fresh:
        # A different order for each person, the same for them on every call.
        return random.Random(f"{person_id}:{len(last_sent)}").choice(fresh)
    return min(fitting, key=lambda tip_id: (last_sent[tip_id], tip_id))


def render_tip(t: Translator, tip: TipWords, delivery_id: int) -> Reply:
    """The tip in the reader's language, its follow-up question, and "was this helpful?"."""
    chinese = t.language == "zh_Hans"
    parts = [tip.text_zh if chinese else tip.text_en]
    follow = tip.follow_up_zh if chinese else tip.follow_up_en
    if follow:
        parts.append("💬 " + follow)
    parts.append(t._("Was this helpful?"))
    return Reply(
        "\n\n".join(parts),
        (
            Choice(t._("Yes, helpful"), tip_payload("y", delivery_id)),
            Choice(t._("Not really"), tip_payload("n", delivery_id)),
        ),
    )


_TIP = table_of(TipRow)


def _word(column: Column[str]) -> ScalarSelect[str]:
    return select(column).where(_TIP.c.id == bindparam("chosen")).scalar_subquery()


# The delivery recorded and the tip's words read in one statement: they come back with the id.
_ADD_DELIVERY = insert(table_of(TipDeliveryRow)).returning(
    table_of(TipDeliveryRow).c.id,
    *(
        _word(c)
        for c in (_TIP.c.text_zh, _TIP.c.text_en, _TIP.c.follow_up_zh, _TIP.c.follow_up_en)
    ),
)


async def _deliver(
    uow: UnitOfWork,
    person_id: int,
    kind: str,
    zone: str,
    births: list[tuple[int, int]],
    now: datetime,
) -> tuple[TipWords, int] | None:
    tip_id = await _choose(uow, person_id, births, now.astimezone(ZoneInfo(zone)).date())
    if tip_id is None:
        return None
    values = {"person_id": person_id, "tip_id": tip_id, "kind": kind, "sent_at": now}
    delivery_id, *words = (
        await uow.session.execute(_ADD_DELIVERY, {**values, "chosen": tip_id})
    ).one()
    return TipWords(*words), delivery_id


async def take_tip(
    uow: UnitOfWork, t: Translator, person_id: int, now: datetime | None = None
) -> Reply | None:
    """A tip now, as the answer to "another tip"; None when the library is empty."""
    zone, births = await _family(uow, person_id)
    found = await _deliver(uow, person_id, "asked", zone, births, now or utcnow())
    return None if found is None else render_tip(t, *found)


async def send_due_tips(
    uow: UnitOfWork, translators: Translators, now: datetime | None = None, limit: int = 100
) -> int:
    """Queue a tip for each subscription that is due and move it to its next time."""
    now = now or utcnow()
    query = (
        select(TipSubscriptionRow)
        .where(TipSubscriptionRow.active.is_(True), TipSubscriptionRow.next_at <= now)
        .order_by(TipSubscriptionRow.next_at)
        .limit(limit)
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    queued = 0
    for row in list(await uow.session.scalars(query)):
        zone, births = await _family(uow, row.person_id)
        slot = row.next_at
        found = await _deliver(uow, row.person_id, "scheduled", zone, births, now)
        if found is not None:
            tip, delivery_id = found
            queued += await tell_people(
                uow,
                translators,
                [row.person_id],
                f"tip:{row.person_id}:{slot.isoformat()}",
                partial(render_tip, tip=tip, delivery_id=delivery_id),
            )
        # A worker that was down for days sends one tip, not a backlog, and goes on from now.
        row.next_at = next_slot(now, Frequency(row.frequency), row.hour, zone)
    await uow.session.flush()
    return queued


async def answer_helpful(
    uow: UnitOfWork, person_id: int, delivery_id: int, helpful: bool, now: datetime | None = None
) -> bool:
    """Store whether a tip helped; return False if this answer was given already.

    Raises:
        NotFound: not a tip sent to this person.
    """
    row = await uow.session.get(TipDeliveryRow, delivery_id)
    if row is None or row.person_id != person_id:
        raise NotFound(f"tip delivery {delivery_id}")
    if row.helpful is helpful:
        return False
    row.helpful = helpful
    row.answered_at = now or utcnow()
    await uow.session.flush()
    return True


async def tip_figures(
    uow: UnitOfWork, actor_person_id: int | None = None
) -> tuple[list[TipFigures], list[TipFigures]]:
    """How often each tip and each topic was sent and found helpful (tips never sent too).

    `actor_person_id` None is the operator at the command line; a person must run a factory.

    Raises:
        Forbidden: the acting person is neither an admin nor a coordinator.
    """
    if actor_person_id is not None and not (await staff_scope(uow, actor_person_id)).is_staff:
        raise Forbidden(f"person {actor_person_id} may not see tip figures")
    rows = await uow.session.execute(
        select(
            TipRow.id,
            TipRow.topic,
            func.count(TipDeliveryRow.id),
            func.sum(case((TipDeliveryRow.helpful.is_(True), 1), else_=0)),
            func.sum(case((TipDeliveryRow.helpful.is_(False), 1), else_=0)),
            TipRow.text_zh,
            TipRow.text_en,
        )
        .outerjoin(TipDeliveryRow, TipDeliveryRow.tip_id == TipRow.id)
        .group_by(TipRow.id, TipRow.topic, TipRow.text_zh, TipRow.text_en)
        .order_by(TipRow.topic, TipRow.id)
    )
    tips = [
        TipFigures(tip_id, topic, int(sent), int(yes or 0), int(no or 0), zh, en)
        for tip_id, topic, sent, yes, no, zh, en in rows
    ]
    topics: dict[str, list[int]] = {}
    for figure in tips:
        total = topics.setdefault(figure.topic, [0, 0, 0])
        total[0] += figure.sent
        total[1] += figure.helpful
        total[2] += figure.not_helpful
    return tips, [
        TipFigures(topic, topic, sent, yes, no) for topic, (sent, yes, no) in topics.items()
    ]
