"""The shared access token: one claim to refresh, a lease, and invalidation of that token only."""

from __future__ import annotations

from datetime import timedelta

from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.services.api_tokens import (
    RENEW_EARLY,
    claim_refresh,
    invalidate_token,
    read_token,
    release_refresh,
    renew_at,
    store_token,
)

NAME = "wechat:wx1"
LEASE = timedelta(seconds=30)


async def claim(db: Database, now=None) -> bool:
    async with db.uow() as uow:
        claimed = await claim_refresh(uow, NAME, lease=LEASE, now=now)
        await uow.commit()
    return claimed


async def store(db: Database, token: str, renew) -> None:
    async with db.uow() as uow:
        await store_token(uow, NAME, token, renew)
        await uow.commit()


async def read(db: Database, now=None):
    async with db.uow() as uow:
        return await read_token(uow, NAME, now=now)


async def test_only_the_first_claim_wins_until_its_lease_runs_out(db: Database) -> None:
    now = utcnow()
    assert await read(db) is None
    assert await claim(db, now) is True
    assert await claim(db, now) is False  # another replica: it waits and reads again
    assert await claim(db, now + LEASE - timedelta(seconds=1)) is False
    # The claimant died mid-fetch: once its lease is over, someone else may fetch.
    assert await claim(db, now + LEASE) is True


async def test_a_stored_token_is_read_until_renewal_and_blocks_claims_until_then(
    db: Database,
) -> None:
    now = utcnow()
    assert await claim(db, now)
    renew = renew_at(now, 7200)
    assert renew == now + timedelta(seconds=7200) - RENEW_EARLY
    await store(db, "t1", renew)
    stored = await read(db, now)
    assert stored is not None and (stored.token, stored.renew_at) == ("t1", renew)
    assert await claim(db, now) is False
    assert await read(db, renew) is None  # due for renewal
    assert await claim(db, renew) is True


async def test_a_failed_fetch_releases_the_claim_at_once(db: Database) -> None:
    assert await claim(db)
    async with db.uow() as uow:
        await release_refresh(uow, NAME)
        await uow.commit()
    assert await claim(db) is True


async def test_only_the_token_still_stored_is_invalidated(db: Database) -> None:
    now = utcnow()
    await claim(db, now)
    await store(db, "new", now + timedelta(hours=1))
    async with db.uow() as uow:
        # A late complaint about the token before this one changes nothing.
        assert await invalidate_token(uow, NAME, "old") is False
        await uow.commit()
    assert (await read(db, now)).token == "new"
    async with db.uow() as uow:
        assert await invalidate_token(uow, NAME, "new") is True
        await uow.commit()
    assert await read(db, now) is None
    assert await claim(db, now) is True


def test_short_lived_tokens_are_renewed_halfway() -> None:
    now = utcnow()
    assert renew_at(now, 60) == now + timedelta(seconds=30)
    assert renew_at(now, -5) == now
