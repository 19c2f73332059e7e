"""Pushes due later (reminders, feedback questions), and the quiet hours they keep.

A scheduled push is a row: the worker claims the due ones (`FOR UPDATE SKIP LOCKED` on
PostgreSQL), renders them into the outbox under an idempotency key and marks them done in
the same transaction, so each fires once after a restart and with several workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import ScheduledPushRow, utcnow
from ffs_bot.db.uow import UnitOfWork

__all__ = [
    "QUIET_FROM",
    "QUIET_UNTIL",
    "DuePush",
    "claim_due_pushes",
    "drop_pushes",
    "mark_done",
    "out_of_quiet_hours",
    "schedule_push",
    "schedule_pushes",
]

# Nobody is woken by us: pushes due at night wait for the morning.
QUIET_FROM = time(22, 0)
QUIET_UNTIL = time(7, 0)


def out_of_quiet_hours(due: datetime, timezone: str) -> datetime:
    """`due`, or the next 07:00 in `timezone` when it falls between 22:00 and 07:00 there."""
    zone = ZoneInfo(timezone)
    local = due.astimezone(zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return due
    morning_day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(1)
    return datetime.combine(morning_day, QUIET_UNTIL, zone).astimezone(due.tzinfo)


@dataclass(frozen=True, slots=True)
class DuePush:
    """A scheduled push whose time has come."""

    id: int
    kind: str
    subject_id: int
    due_at: datetime


async def schedule_push(uow: UnitOfWork, kind: str, subject_id: int, due_at: datetime) -> None:
    """Schedule (or move, if not yet sent) the push `kind` about `subject_id`."""
    await schedule_pushes(uow, subject_id, [(kind, due_at)])


async def schedule_pushes(
    uow: UnitOfWork, subject_id: int, pushes: list[tuple[str, datetime]]
) -> None:
    """`schedule_push` for several (kind, due) about `subject_id`, in one statement."""
    if not pushes:
        return
    table = table_of(ScheduledPushRow)
    stmt = insert_for(uow.dialect)(table)
    now = utcnow()
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "subject_id"],
            set_={"due_at": stmt.excluded.due_at},
            where=table.c.done_at.is_(None),
        ),
        [
            {"kind": kind, "subject_id": subject_id, "due_at": due_at, "created_at": now}
            for kind, due_at in pushes
        ],
    )


async def drop_pushes(uow: UnitOfWork, kinds: list[str], subject_id: int) -> None:
    """Forget pushes not yet sent about `subject_id` (a cancelled booking, say)."""
    await uow.session.execute(
        delete(ScheduledPushRow).where(
            ScheduledPushRow.kind.in_(kinds),
            ScheduledPushRow.subject_id == subject_id,
            ScheduledPushRow.done_at.is_(None),
        )
    )


async def claim_due_pushes(
    uow: UnitOfWork, now: datetime | None = None, limit: int = 100
) -> list[DuePush]:
    """The due pushes no other worker holds, oldest first; mark each done when handled."""
    query = (
        select(ScheduledPushRow)
        .where(ScheduledPushRow.done_at.is_(None), ScheduledPushRow.due_at <= (now or utcnow()))
        .order_by(ScheduledPushRow.due_at, ScheduledPushRow.id)
        .limit(limit)
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [
        DuePush(row.id, row.kind, row.subject_id, row.due_at)
        for row in await uow.session.scalars(query)
    ]


async def mark_done(uow: UnitOfWork, push_id: int, now: datetime | None = None) -> None:
    """The push was queued in the outbox (or is no longer wanted)."""
    await uow.session.execute(
        update(ScheduledPushRow)
        .where(ScheduledPushRow.id == push_id)
        .values(done_at=now or utcnow())
    )
