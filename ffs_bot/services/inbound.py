"""Exactly-once handling of inbound messages: a re-delivery gets the stored answer."""

from __future__ import annotations

from sqlalchemy import select, update

from ffs_bot.db.sql import insert_ignore
from ffs_bot.db.tables import ProcessedInboundRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.messages import Reply, replies_from_json, replies_to_json

__all__ = ["claim_inbound", "store_replies"]


async def claim_inbound(uow: UnitOfWork, channel: str, external_id: str) -> list[Reply] | None:
    """Claim a message for processing; return the earlier answer if it was handled already.

    The claim is part of the caller's transaction: if the step fails and rolls back, the
    message was never handled and a re-delivery is processed afresh.
    """
    claimed = await insert_ignore(
        uow,
        ProcessedInboundRow,
        {"channel": channel, "external_id": external_id},
        ["channel", "external_id"],
    )
    if claimed:
        return None
    stored = await uow.session.scalar(
        select(ProcessedInboundRow.replies).where(
            ProcessedInboundRow.channel == channel,
            ProcessedInboundRow.external_id == external_id,
        )
    )
    return replies_from_json(stored or [])


async def store_replies(
    uow: UnitOfWork, channel: str, external_id: str, replies: list[Reply]
) -> None:
    """Keep the answer given to a claimed message, for re-deliveries."""
    await uow.session.execute(
        update(ProcessedInboundRow)
        .where(
            ProcessedInboundRow.channel == channel,
            ProcessedInboundRow.external_id == external_id,
        )
        .values(replies=replies_to_json(replies))
    )
