"""Signed requests bound to what they carried: one signed (timestamp, nonce), one body.

A channel whose requests are signed over a timestamp and a nonce, but not over the body
(WeChat's URL signature), would take the same signed URL again with any body. So the first
body a pair comes with is recorded, by its digest, in a table every replica shares; the
same pair again is accepted only with that same body (the channel's own retry). Rows are
needed only while the pair's signature is still accepted, and purged after.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from ffs_bot.db.sql import insert_ignore
from ffs_bot.db.tables import SignedRequestRow
from ffs_bot.db.uow import UnitOfWork

__all__ = ["bind", "purge"]


async def bind(uow: UnitOfWork, channel: str, stamp: int, nonce: str, digest: str) -> bool:
    """Bind a signed pair to a body's digest; return whether the pair is that body's.

    The first caller with a pair binds it; later ones (on any replica) get True only for the
    same digest. On PostgreSQL a concurrent first use waits for the other transaction, then
    reads what it bound.
    """
    values = {"channel": channel, "stamp": stamp, "nonce": nonce, "digest": digest}
    if await insert_ignore(uow, SignedRequestRow, values, ["channel", "stamp", "nonce"]):
        return True
    bound = await uow.session.scalar(
        select(SignedRequestRow.digest).where(
            SignedRequestRow.channel == channel,
            SignedRequestRow.stamp == stamp,
            SignedRequestRow.nonce == nonce,
        )
    )
    # Gone already (purged: the pair is long stale) counts as used.
    return bound == digest


async def purge(uow: UnitOfWork, before: datetime) -> int:
    """Forget pairs first used before `before`; return how many."""
    result = await uow.session.execute(
        delete(SignedRequestRow).where(SignedRequestRow.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
