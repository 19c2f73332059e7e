"""The durable queue of channel updates: stored before confirmed, handled exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from ffs_bot.db.sql import insert_ignore
from ffs_bot.db.tables import InboundUpdateRow, utcnow
from ffs_bot.db.uow import UnitOfWork

__all__ = ["StoredUpdate", "mark_update_done", "pending_updates", "purge_done", "store_updates"]


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
    stored: list[StoredUpdate] = []
    for external_id, chat_key, body in updates:
        values = {
            "channel": channel,
            "external_id": external_id,
            "chat_key": chat_key,
            "body": body,
        }
        if await insert_ignore(uow, InboundUpdateRow, values, ["channel", "external_id"]):
            row_id = await uow.session.scalar(
                select(InboundUpdateRow.id).where(
                    InboundUpdateRow.channel == channel,
                    InboundUpdateRow.external_id == external_id,
                )
            )
            assert row_id is not None
            stored.append(StoredUpdate(row_id, channel, external_id, chat_key, body))
    return stored


async def pending_updates(uow: UnitOfWork, channel: str) -> list[StoredUpdate]:
    """Return the updates stored but not yet handled, oldest first (after a restart)."""
    rows = await uow.session.scalars(
        select(InboundUpdateRow)
        .where(InboundUpdateRow.channel == channel, InboundUpdateRow.done_at.is_(None))
        .order_by(InboundUpdateRow.id)
    )
    return [
        StoredUpdate(row.id, row.channel, row.external_id, row.chat_key, dict(row.body))
        for row in rows
    ]


async def mark_update_done(uow: UnitOfWork, update_id: int) -> None:
    """Note that an update was handled and its answer sent."""
    await uow.session.execute(
        update(InboundUpdateRow)
        .where(InboundUpdateRow.id == update_id)
        .values(done_at=utcnow(), body={})
    )


async def purge_done(uow: UnitOfWork, before: Any) -> int:
    """Delete handled updates older than `before`; return how many."""
    result = await uow.session.execute(
        delete(InboundUpdateRow).where(
            InboundUpdateRow.done_at.is_not(None), InboundUpdateRow.done_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
