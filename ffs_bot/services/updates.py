"""The durable queue of channel updates: stored before confirmed, handled exactly once."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import InboundUpdateRow, utcnow
from ffs_bot.db.uow import UnitOfWork

__all__ = [
    "StoredUpdate",
    "chat_pending",
    "mark_updates_done",
    "pending_updates",
    "purge_done",
    "store_unreadable",
    "store_updates",
]

# The chat key of updates that cannot be read: they are stored done, never answered.
UNREADABLE_CHAT = "unreadable"

_UPDATES = table_of(InboundUpdateRow)
_MARK_DONE = (
    update(_UPDATES)
    .where(_UPDATES.c.id.in_(bindparam("ids", expanding=True)))
    .values(done_at=bindparam("now"), body={})
)


@functools.cache
def _store(dialect: str) -> Any:
    """Insert updates not stored before; returns (external id, new id) of those inserted.

    Built once and run with a list of parameter sets: SQLAlchemy then sends them as
    multi-row INSERTs of a statement it compiled once, where a statement with the rows as
    its VALUES was compiled again for every poll.
    """
    return (
        insert_for(dialect)(_UPDATES)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(_UPDATES.c.external_id, _UPDATES.c.id)
    )


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """An update waiting to be handled."""

    id: int
    channel: str
    external_id: str
    chat_key: str
    body: dict[str, Any]


async def store_updates(
    uow: UnitOfWork, channel: str, updates: list[tuple[str, str, dict[str, Any]]]
) -> list[StoredUpdate]:
    """Store (external id, chat key, body) updates; return those not stored before."""
    # The same update twice in one batch is stored once and handled once.
    updates = list(
        {external_id: (external_id, key, body) for external_id, key, body in updates}.values()
    )
    if not updates:
        return []
    now = utcnow()
    result = await uow.session.execute(
        _store(uow.dialect),
        [
            {
                "channel": channel,
                "external_id": external_id,
                "chat_key": chat_key,
                "body": body,
                "received_at": now,
            }
            for external_id, chat_key, body in updates
        ],
    )
    new_ids = {external_id: int(new_id) for external_id, new_id in result}
    return [
        StoredUpdate(new_ids[external_id], channel, external_id, chat_key, body)
        for external_id, chat_key, body in updates
        if external_id in new_ids
    ]


async def store_unreadable(
    uow: UnitOfWork, channel: str, notes: list[tuple[str, str]]
) -> list[str]:
    """Store (external id, note) updates that cannot be read as done; return the new ids.

    They are kept, so the channel's retry of one is known, and finished at once, so no
    restart takes them up again; the note says why in place of what they said.
    """
    notes = list(dict(notes).items())
    if not notes:
        return []
    now = utcnow()
    result = await uow.session.execute(
        _store(uow.dialect),
        [
            {
                "channel": channel,
                "external_id": external_id,
                "chat_key": UNREADABLE_CHAT,
                "body": {"note": note},
                "received_at": now,
                "done_at": now,
            }
            for external_id, note in notes
        ],
    )
    return [str(external_id) for external_id, _id in result]


_PENDING_OF_CHAT = (
    select(_UPDATES.c.id, _UPDATES.c.external_id, _UPDATES.c.body)
    .where(
        _UPDATES.c.channel == bindparam("channel"),
        _UPDATES.c.chat_key == bindparam("chat_key"),
        _UPDATES.c.done_at.is_(None),
    )
    .order_by(_UPDATES.c.id)
)


async def pending_updates(
    uow: UnitOfWork, channel: str, *, older_than: timedelta | None = None
) -> list[StoredUpdate]:
    """Return the updates stored but not yet handled, oldest first (after a restart).

    With `older_than`, only those received at least that long ago: the ones no process is
    likely to be answering now.
    """
    query = (
        select(InboundUpdateRow)
        .where(InboundUpdateRow.channel == channel, InboundUpdateRow.done_at.is_(None))
        .order_by(InboundUpdateRow.id)
    )
    if older_than is not None:
        query = query.where(InboundUpdateRow.received_at <= utcnow() - older_than)
    rows = await uow.session.scalars(query)
    return [
        StoredUpdate(row.id, row.channel, row.external_id, row.chat_key, dict(row.body))
        for row in rows
    ]


async def chat_pending(uow: UnitOfWork, channel: str, chat_key: str) -> list[StoredUpdate]:
    """Return one chat's updates not yet handled, in the order they were stored.

    Read under the chat's claim, it is the work that falls to the claimant: updates other
    processes stored and have not started, and none that another process has answered.
    """
    rows = await uow.session.execute(_PENDING_OF_CHAT, {"channel": channel, "chat_key": chat_key})
    return [
        StoredUpdate(row.id, channel, row.external_id, chat_key, dict(row.body)) for row in rows
    ]


async def mark_updates_done(uow: UnitOfWork, update_ids: list[int]) -> None:
    """Note that updates were handled and answered (and forget what they said)."""
    await uow.session.execute(_MARK_DONE, {"ids": update_ids, "now": utcnow()})


async def purge_done(uow: UnitOfWork, before: datetime) -> int:
    """Delete handled updates older than `before`; return how many."""
    result = await uow.session.execute(
        delete(InboundUpdateRow).where(
            InboundUpdateRow.done_at.is_not(None), InboundUpdateRow.done_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
