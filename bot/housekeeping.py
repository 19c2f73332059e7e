"""Jobs the worker runs on a clock: lapsing unanswered seat offers, and daily tidying."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.notices import FamilyNotifier
from ffs_bot.services.inbound import purge_answers
from ffs_bot.services.seasons import expire_offers
from ffs_bot.services.updates import purge_done

__all__ = ["KEEP_HANDLED", "expire_offers_forever", "lapse_offers", "tidy", "tidy_forever"]

log = logging.getLogger(__name__)

# Re-deliveries come within hours; a month is ample, and then the texts are gone.
KEEP_HANDLED = timedelta(days=30)
EVERY = timedelta(days=1)
OFFERS_EVERY = timedelta(minutes=1)
OFFER_BATCH = 100


async def tidy(db: Database, keep: timedelta = KEEP_HANDLED) -> tuple[int, int]:
    """Delete answers and handled updates older than `keep`; return how many of each."""
    before = utcnow() - keep
    async with db.uow() as uow:
        answers = await purge_answers(uow, before)
        updates = await purge_done(uow, before)
        await uow.commit()
    return answers, updates


async def tidy_forever(db: Database, stop: asyncio.Event) -> None:
    """Tidy now and then once a day until `stop` is set; a failure waits for the next day."""
    while not stop.is_set():
        try:
            answers, updates = await tidy(db)
            log.info("tidied %d answers and %d handled updates", answers, updates)
        except Exception:
            log.exception("tidying failed; trying again tomorrow")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=EVERY.total_seconds())


async def lapse_offers(db: Database, notify: FamilyNotifier) -> int:
    """End every offer whose time is up, in batches of transactions; return how many ended."""
    total = 0
    while True:
        async with db.uow() as uow:
            ended = await expire_offers(uow, notify, limit=OFFER_BATCH)
            await uow.commit()
        total += ended
        # Each round ends offers for good, so this stops; an offer made in a round may be
        # due at once (its window passed while the worker was down) and lapse in the next.
        if ended == 0:
            return total


async def expire_offers_forever(db: Database, notify: FamilyNotifier, stop: asyncio.Event) -> None:
    """Lapse unanswered offers every minute until `stop` is set (they are rows: none is lost)."""
    while not stop.is_set():
        try:
            if ended := await lapse_offers(db, notify):
                log.info("%d seat offers lapsed and passed on", ended)
        except Exception:
            log.exception("lapsing seat offers failed; trying again in a minute")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=OFFERS_EVERY.total_seconds())
