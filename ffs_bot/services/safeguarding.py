"""Safeguarding alerts: a message that may mean danger is recorded and staff are alerted.

What is kept and sent is who (the person), when, which factory and which kind of concern;
never the message itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select

from ffs_bot.db.sql import table_of
from ffs_bot.db.tables import FactoryRow, PersonRow, RoleRow, SafeguardingAlertRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.i18n import N_, Translator, Translators
from ffs_bot.messages import Reply
from ffs_bot.model import Person, PersonStatus, RoleName
from ffs_bot.notices import tell_people
from ffs_bot.safeguarding import Concern

__all__ = ["QUIET_PERIOD", "Alert", "raise_concern", "recent_alerts"]

# Staff are alerted once per person and kind of concern in this time: a person in distress
# often writes several messages in a row, and one alert is what staff need to act on. A
# different kind (a child in danger after a crisis) is new news and alerts again. A constant,
# not a setting: it is part of what staff are told to expect, not something to tune per site.
QUIET_PERIOD = timedelta(hours=1)
DEFAULT_TIMEZONE = "Asia/Shanghai"

_ALERT = {
    Concern.CHILD: N_(
        "Safeguarding alert: {name} (no. {number}, {factory}) wrote to the bot at {time} with "
        "words that may mean a child is in danger."
    ),
    Concern.CRISIS: N_(
        "Safeguarding alert: {name} (no. {number}, {factory}) wrote to the bot at {time} with "
        "words that may mean they are in crisis."
    ),
}
_WHAT_TO_DO = N_(
    "Please reach them today, in person or by phone. If a life is in danger, call 110 or 120. "
    "They have been given the helpline numbers. Their message is not shown here, to protect "
    "their privacy."
)
_ADD_ALERT = insert(table_of(SafeguardingAlertRow))


@dataclass(frozen=True, slots=True)
class Alert:
    """A recorded match: who, where, when, which kind, and how many staff pushes it made."""

    person_id: int
    factory_id: int | None
    kind: Concern
    at: datetime
    alerted: int


async def raise_concern(
    uow: UnitOfWork,
    translators: Translators,
    person: Person,
    kind: Concern,
    *,
    now: datetime | None = None,
) -> bool:
    """Record a matched message and alert the factory's coordinators and every programme admin.

    Within `QUIET_PERIOD` of an alert of the same kind about the same person, the match is
    recorded but nobody is alerted again. Returns whether staff know: alerted now or then.
    """
    now = now or utcnow()
    earlier = await uow.session.scalar(
        select(SafeguardingAlertRow.id)
        .where(
            SafeguardingAlertRow.person_id == person.id,
            SafeguardingAlertRow.kind == kind.value,
            SafeguardingAlertRow.at > now - QUIET_PERIOD,
            SafeguardingAlertRow.alerted > 0,
        )
        .limit(1)
    )
    queued = 0
    if earlier is None:
        queued = await _alert_staff(uow, translators, person, kind, now)
    await uow.session.execute(
        _ADD_ALERT,
        {
            "person_id": person.id,
            "factory_id": person.factory_id,
            "kind": kind.value,
            "at": now,
            "alerted": queued,
        },
    )
    return earlier is not None or queued > 0


async def _alert_staff(
    uow: UnitOfWork, translators: Translators, person: Person, kind: Concern, now: datetime
) -> int:
    coordinators = and_(
        RoleRow.role == RoleName.COORDINATOR.value, RoleRow.factory_id == person.factory_id
    )
    # Only staff who can be reached: the worker is told staff know only if someone will.
    staff = list(
        await uow.session.scalars(
            select(RoleRow.person_id)
            .join(PersonRow, PersonRow.id == RoleRow.person_id)
            .where(
                or_(RoleRow.role == RoleName.ADMIN.value, coordinators),
                RoleRow.person_id != person.id,
                PersonRow.status == PersonStatus.ACTIVE.value,
            )
            .distinct()
        )
    )
    if not staff:
        return 0
    factory = None
    if person.factory_id is not None:
        factory = (
            await uow.session.execute(
                select(FactoryRow.name_zh, FactoryRow.name_en, FactoryRow.timezone).where(
                    FactoryRow.id == person.factory_id
                )
            )
        ).first()

    def render(t: Translator) -> Reply:
        if factory is None:
            where, timezone = t._("no factory chosen yet"), DEFAULT_TIMEZONE
        else:
            where = factory.name_en if t.language == "en" else factory.name_zh
            timezone = factory.timezone
        alert = t._(
            _ALERT[kind],
            name=person.display_name or t._("someone not yet signed up"),
            number=person.id,
            factory=where,
            time=t.weekday_moment(now, timezone),
        )
        return Reply(f"{alert}\n\n{t._(_WHAT_TO_DO)}")

    return await tell_people(
        uow,
        translators,
        staff,
        f"safeguarding:{person.id}:{kind.value}:{now.strftime('%Y%m%d%H%M%S%f')}",
        render,
    )


async def recent_alerts(uow: UnitOfWork, since: datetime) -> list[Alert]:
    """Matches recorded from `since` on, newest first."""
    rows = await uow.session.scalars(
        select(SafeguardingAlertRow)
        .where(SafeguardingAlertRow.at >= since)
        .order_by(SafeguardingAlertRow.at.desc(), SafeguardingAlertRow.id.desc())
    )
    return [
        Alert(row.person_id, row.factory_id, Concern(row.kind), row.at, row.alerted)
        for row in rows
    ]
