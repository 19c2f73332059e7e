"""Daily tidying of what is kept only for a while: answers to handled messages and updates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.services.inbound import purge_answers
from ffs_bot.services.updates import purge_done

__all__ = ["KEEP_HANDLED", "tidy", "tidy_forever"]

log = logging.getLogger(__name__)

# Re-deliveries come within hours; a month is ample, and then the texts are gone.
KEEP_HANDLED = timedelta(days=30)
EVERY = timedelta(days=1)


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
