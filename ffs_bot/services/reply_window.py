"""A person's reply window: when they last wrote, and how many pushes followed since.

WeChat lets an account send customer-service messages only for a while after the person's
last message, and only so many; the window starts again at each message they send. The
start is the identity's `last_seen_at` (kept to the minute, so the window we see closes a
little early rather than late), and the pushes are the outbox rows sent since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ffs_bot.db.tables import IdentityRow, OutboxRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.outbox import OutboxStatus

__all__ = ["ReplyWindow", "reply_window"]


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    """When the person last wrote to us, and how many pushes they were sent after it."""

    last_seen_at: datetime
    sent_since: int


async def reply_window(uow: UnitOfWork, channel: str, recipient: str) -> ReplyWindow | None:
    """Return the recipient's window, or None if they never wrote on this channel."""
    last_seen = await uow.session.scalar(
        select(IdentityRow.last_seen_at).where(
            IdentityRow.channel == channel, IdentityRow.external_user_id == recipient
        )
    )
    if last_seen is None:
        return None
    sent = await uow.session.scalar(
        # Served by ix_outbox_recipient (channel, recipient, id): one person's rows.
        select(func.count())
        .select_from(OutboxRow)
        .where(
            OutboxRow.channel == channel,
            OutboxRow.recipient == recipient,
            OutboxRow.status == OutboxStatus.SENT.value,
            OutboxRow.sent_at >= last_seen,
        )
    )
    return ReplyWindow(last_seen, int(sent or 0))
