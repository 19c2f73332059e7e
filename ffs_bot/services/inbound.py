"""Exactly-once handling of inbound messages: a re-delivery gets the stored answer."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import ProcessedInboundRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.messages import Reply, replies_from_json, replies_to_json

__all__ = ["earlier_answer", "purge_answers", "record_answer"]


@functools.cache
def _record(dialect: str) -> Any:
    """Insert a handled message unless it is there: built once, values as parameters."""
    return insert_for(dialect)(table_of(ProcessedInboundRow)).on_conflict_do_nothing(
        index_elements=["channel", "external_id"]
    )


async def earlier_answer(uow: UnitOfWork, channel: str, external_id: str) -> list[Reply] | None:
    """Return the answer a message got when it was handled before, if it was."""
    stored = await uow.session.execute(
        select(ProcessedInboundRow.replies).where(
            ProcessedInboundRow.channel == channel,
            ProcessedInboundRow.external_id == external_id,
        )
    )
    row = stored.first()
    return None if row is None else replies_from_json(row.replies or [])


async def record_answer(
    uow: UnitOfWork, channel: str, external_id: str, replies: list[Reply]
) -> bool:
    """Record that a message was handled, with its answer, in the step's own transaction.

    Returns False when the message was handled already (a re-delivery that raced this one):
    the caller must then drop its work and give the earlier answer. On PostgreSQL the
    insert waits for a concurrent transaction with the same message to end first.
    """
    result = await uow.session.execute(
        _record(uow.dialect),
        {"channel": channel, "external_id": external_id, "replies": replies_to_json(replies)},
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def purge_answers(uow: UnitOfWork, before: datetime) -> int:
    """Forget answers to messages handled before `before`; return how many.

    They are kept only to answer re-deliveries, which come within minutes or hours, and
    they may hold names.
    """
    result = await uow.session.execute(
        delete(ProcessedInboundRow).where(ProcessedInboundRow.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
