"""The outbox: every push (reminder, tip, broadcast, offer) is a row the worker delivers.

A row is pending until a worker claims it (status `sending` with a lease), then settles as
`sent`, `failed` or `stopped`, or goes back to `pending` with a later attempt time. A worker
that dies mid-send leaves its rows `sending`; when the lease runs out they are claimed again,
so at most what was in flight is sent twice. Rows of one recipient go out in order: a row is
claimed only when no earlier row of the same recipient is still unsettled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from ffs_bot.db.sql import insert_ignore
from ffs_bot.db.tables import IdentityRow, OutboxRow, PersonRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.messages import Reply, replies_from_json, replies_to_json
from ffs_bot.model import PersonStatus

__all__ = [
    "OutboxMessage",
    "OutboxStatus",
    "claim_due",
    "enqueue",
    "kind_of",
    "release_claims",
    "settle_failed",
    "settle_retry",
    "settle_sent",
    "settle_stopped",
    "stop_pending_for",
]

MAX_ERROR = 300


class OutboxStatus(StrEnum):
    """Where a row of the outbox is."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A claimed row, ready to send."""

    id: int
    channel: str
    recipient: str
    person_id: int | None
    replies: list[Reply]
    attempts: int
    kind: str = ""


async def enqueue(
    uow: UnitOfWork,
    *,
    channel: str,
    recipient: str,
    replies: list[Reply],
    idempotency_key: str,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> bool:
    """Add a push unless one with the same key exists; return whether it was added.

    Pushes go only to accounts that wrote to us: one we have no identity for is refused
    (nothing is added). A push to a person who stopped us, or who never wrote (an account
    given a staff role), is kept, marked stopped, and never sent.
    """
    person = await uow.session.execute(
        select(PersonRow.id, PersonRow.status)
        .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
        .where(IdentityRow.channel == channel, IdentityRow.external_user_id == recipient)
    )
    found = person.first()
    if found is None:
        return False
    stopped = found.status != PersonStatus.ACTIVE.value
    return await insert_ignore(
        uow,
        OutboxRow,
        {
            "idempotency_key": idempotency_key,
            "channel": channel,
            "recipient": recipient,
            "person_id": found.id,
            "content": replies_to_json(replies),
            "broadcast_id": broadcast_id,
            "status": (OutboxStatus.STOPPED if stopped else OutboxStatus.PENDING).value,
            "attempts": 0,
            "next_attempt_at": not_before or utcnow(),
            "last_error": "",
            "created_at": utcnow(),
        },
        ["idempotency_key"],
    )


def kind_of(idempotency_key: str) -> str:
    """Return what a push is (`booking`, `tip`, `broadcast`, ...): its key's first part."""
    return idempotency_key.partition(":")[0]


async def claim_due(
    uow: UnitOfWork,
    *,
    channels: list[str],
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Claim up to `limit` due rows (at most one per recipient) for this worker.

    On PostgreSQL rows locked by another worker are skipped; on SQLite the write lock taken
    when the transaction began keeps workers apart.
    """
    now = now or utcnow()
    earlier = aliased(OutboxRow)
    due = or_(
        and_(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.status == OutboxStatus.SENDING.value, OutboxRow.claimed_until < now),
    )
    waiting_behind = exists().where(
        earlier.channel == OutboxRow.channel,
        earlier.recipient == OutboxRow.recipient,
        earlier.id < OutboxRow.id,
        earlier.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
    )
    query = (
        select(OutboxRow)
        .where(OutboxRow.channel.in_(channels), due, ~waiting_behind)
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxRow)
    rows = list(await uow.session.scalars(query))
    claimed = []
    for row in rows:
        row.status = OutboxStatus.SENDING.value
        row.claimed_until = now + lease
        row.attempts += 1
        claimed.append(
            OutboxMessage(
                id=row.id,
                channel=row.channel,
                recipient=row.recipient,
                person_id=row.person_id,
                replies=replies_from_json(row.content),
                attempts=row.attempts,
                kind=kind_of(row.idempotency_key),
            )
        )
    return claimed


async def release_claims(uow: UnitOfWork, lease_ends: Sequence[datetime]) -> int:
    """Put back the rows of claims whose outcome was not known; return how many.

    A claim's lease ends at `now + lease` to the microsecond, with the `now` of the worker
    that made it: the lease's end names the claim. When the connection is lost while the
    claim commits, the rows may be claimed with nobody sending them; put back, they go at
    once instead of when the lease runs out. They were not attempted.
    """
    result = await uow.session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.status == OutboxStatus.SENDING.value,
            OutboxRow.claimed_until.in_(lease_ends),
        )
        .values(
            status=OutboxStatus.PENDING.value,
            claimed_until=None,
            attempts=OutboxRow.attempts - 1,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _settle(uow: UnitOfWork, row_id: int, **values: object) -> None:
    await uow.session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id, OutboxRow.status == OutboxStatus.SENDING.value)
        .values(claimed_until=None, **values)
    )


async def settle_sent(uow: UnitOfWork, row_id: int) -> None:
    """The row was delivered."""
    await _settle(uow, row_id, status=OutboxStatus.SENT.value, sent_at=utcnow(), last_error="")


async def settle_retry(
    uow: UnitOfWork, row_id: int, *, delay: timedelta, error: str, count_attempt: bool = True
) -> None:
    """Try the row again after `delay`; a wait the channel asked for is not a failed attempt."""
    values: dict[str, object] = {
        "status": OutboxStatus.PENDING.value,
        "next_attempt_at": utcnow() + delay,
        "last_error": error[:MAX_ERROR],
    }
    if not count_attempt:
        values["attempts"] = OutboxRow.attempts - 1
    await _settle(uow, row_id, **values)


async def settle_failed(uow: UnitOfWork, row_id: int, error: str) -> None:
    """The row will never be delivered."""
    await _settle(uow, row_id, status=OutboxStatus.FAILED.value, last_error=error[:MAX_ERROR])


async def settle_stopped(uow: UnitOfWork, row_id: int) -> None:
    """The recipient blocked us; the row is kept but not sent."""
    await _settle(uow, row_id, status=OutboxStatus.STOPPED.value, last_error="blocked")


async def stop_pending_for(uow: UnitOfWork, person_id: int) -> int:
    """Mark every unsent push to a person stopped; return how many."""
    result = await uow.session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.person_id == person_id,
            OutboxRow.status == OutboxStatus.PENDING.value,
        )
        .values(status=OutboxStatus.STOPPED.value, last_error="blocked")
    )
    return int(getattr(result, "rowcount", 0) or 0)
