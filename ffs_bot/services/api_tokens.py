"""Access tokens a channel hands out, kept in the database so every process shares one.

WeChat gives an account one live access token at a time, and a fetch retires the last one:
replicas that each fetched their own would keep cancelling each other's. So the token is a
row. A process that finds it missing or due for renewal claims the refresh with one
conditional UPDATE (the claim is a lease, so a process that dies mid-fetch holds nobody up
for long), fetches outside any transaction, and stores what it got; the others wait and read
the row again. A token the channel rejected is cleared only if it is still the stored one,
so a late complaint about an old token never throws away a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, or_, select, update

from ffs_bot.db.sql import insert_ignore
from ffs_bot.db.tables import ApiTokenRow, utcnow
from ffs_bot.db.uow import UnitOfWork

__all__ = [
    "StoredToken",
    "claim_refresh",
    "invalidate_token",
    "read_token",
    "release_refresh",
    "renew_at",
    "store_token",
]

# Renew this long before the channel says the token expires, so one in use never lapses.
RENEW_EARLY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token and the time to stop using it."""

    token: str
    renew_at: datetime


def renew_at(fetched_at: datetime, expires_in: float) -> datetime:
    """When to renew a token that lives `expires_in` seconds: a few minutes early.

    A short-lived token (a test server's) is renewed halfway through its life instead.
    """
    life = timedelta(seconds=max(expires_in, 0))
    return fetched_at + life - min(RENEW_EARLY, life / 2)


async def read_token(
    uow: UnitOfWork, name: str, *, now: datetime | None = None
) -> StoredToken | None:
    """Return the stored token if it is not yet due for renewal."""
    now = now or utcnow()
    row = (
        await uow.session.execute(
            select(ApiTokenRow.token, ApiTokenRow.expires_at).where(ApiTokenRow.name == name)
        )
    ).first()
    if row is None or row.token is None or row.expires_at is None or row.expires_at <= now:
        return None
    return StoredToken(row.token, row.expires_at)


async def claim_refresh(
    uow: UnitOfWork, name: str, *, lease: timedelta, now: datetime | None = None
) -> bool:
    """Claim the right to fetch a new token; return whether this caller got it.

    Nobody gets it while the stored token is still good or another claim's lease runs.
    """
    now = now or utcnow()
    await insert_ignore(uow, ApiTokenRow, {"name": name, "updated_at": now}, ["name"])
    result = await uow.session.execute(
        update(ApiTokenRow)
        .where(
            ApiTokenRow.name == name,
            or_(
                ApiTokenRow.token.is_(None),
                ApiTokenRow.expires_at.is_(None),
                ApiTokenRow.expires_at <= now,
            ),
            or_(ApiTokenRow.refreshing_until.is_(None), ApiTokenRow.refreshing_until <= now),
        )
        .values(refreshing_until=now + lease, updated_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def store_token(
    uow: UnitOfWork, name: str, token: str, renew: datetime, *, now: datetime | None = None
) -> None:
    """Store a freshly fetched token, to be renewed at `renew`, and end the claim."""
    await uow.session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.name == name)
        .values(token=token, expires_at=renew, refreshing_until=None, updated_at=now or utcnow())
    )


async def release_refresh(uow: UnitOfWork, name: str) -> None:
    """Give up a claim whose fetch failed, so the next caller may try at once."""
    await uow.session.execute(
        update(ApiTokenRow).where(ApiTokenRow.name == name).values(refreshing_until=None)
    )


async def invalidate_token(
    uow: UnitOfWork, name: str, token: str, *, now: datetime | None = None
) -> bool:
    """Forget a token the channel rejected, unless another has replaced it already."""
    result = await uow.session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.name == name, ApiTokenRow.token == token)
        .values(token=None, expires_at=None, updated_at=now or utcnow())
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1
