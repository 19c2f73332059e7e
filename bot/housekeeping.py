"""Jobs the worker runs on a clock: lapsing unanswered seat offers; daily tidying and purging."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, timedelta

from bot.wechat.adapter import MAX_CLOCK_SKEW
from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.i18n import Translators
from ffs_bot.notices import FamilyNotifier
from ffs_bot.privacy import DEFAULT_RETENTION_DAYS
from ffs_bot.schedule import claim_due_pushes, mark_done
from ffs_bot.services import broadcasts, signed_requests, tips, workshops
from ffs_bot.services.children import purge_invite_attempts
from ffs_bot.services.erasure import PurgeResult, purge_children
from ffs_bot.services.inbound import purge_answers
from ffs_bot.services.seasons import expire_offers
from ffs_bot.services.updates import purge_done
from ffs_bot.workshop_notices import WorkshopNotifier

__all__ = [
    "KEEP_HANDLED",
    "KEEP_SIGNED",
    "every_minute",
    "forget_signed_requests",
    "lapse_offers",
    "lapse_workshop_offers",
    "purge",
    "run_broadcasts",
    "send_due_pushes",
    "send_tips",
    "tidy",
    "tidy_forever",
]

log = logging.getLogger(__name__)

# Re-deliveries come within hours; a month is ample, and then the texts are gone.
KEEP_HANDLED = timedelta(days=30)
# A pair is first seen at most one clock window after its timestamp and is refused as
# stale one window after it: after two, nobody can use it again.
KEEP_SIGNED = 2 * timedelta(seconds=MAX_CLOCK_SKEW)
EVERY = timedelta(days=1)
OFFERS_EVERY = timedelta(minutes=1)
OFFER_BATCH = 100


async def tidy(db: Database, keep: timedelta = KEEP_HANDLED) -> tuple[int, int, int]:
    """Delete old answers, handled updates and wrong invite codes; return how many of each.

    Answers and updates go after `keep`; wrong invite codes once they count no more.
    """
    now = utcnow()
    async with db.uow() as uow:
        answers = await purge_answers(uow, now - keep)
        updates = await purge_done(uow, now - keep)
        attempts = await purge_invite_attempts(uow, now)
        await uow.commit()
    return answers, updates, attempts


async def purge(
    db: Database,
    notify: FamilyNotifier,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    *,
    dry_run: bool = False,
    today: date | None = None,
) -> PurgeResult:
    """Erase children whose last season ended more than `retention_days` ago, at once."""
    now = utcnow()
    async with db.uow() as uow:
        result = await purge_children(
            uow,
            notify,
            retention_days=retention_days,
            today=today or now.date(),
            now=now,
            dry_run=dry_run,
        )
        if not dry_run:
            await uow.commit()
    return result


async def tidy_forever(
    db: Database,
    stop: asyncio.Event,
    notify: FamilyNotifier,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> None:
    """Tidy and purge now and then once a day until `stop`; a failure waits for the next day."""
    while not stop.is_set():
        try:
            answers, updates, attempts = await tidy(db)
            log.info(
                "tidied %d answers, %d handled updates and %d wrong invite codes",
                answers,
                updates,
                attempts,
            )
        except Exception:
            log.exception("tidying failed; trying again tomorrow")
        try:
            purged = await purge(db, notify, retention_days)
            log.info("purged %d children past retention", purged.children)
        except Exception:
            log.exception("purging failed; trying again tomorrow")
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


async def send_due_pushes(db: Database, notify: WorkshopNotifier) -> int:
    """Queue every due reminder and feedback question, a batch per transaction."""
    queued = 0
    while True:
        async with db.uow() as uow:
            due = await claim_due_pushes(uow, limit=OFFER_BATCH)
            for push in due:
                queued += await workshops.fire_push(uow, notify, push)
                await mark_done(uow, push.id)
            await uow.commit()
        if len(due) < OFFER_BATCH:
            return queued


async def lapse_workshop_offers(db: Database, notify: WorkshopNotifier) -> int:
    """End every workshop offer whose time is up, passing the seats on."""
    total = 0
    while True:
        async with db.uow() as uow:
            ended = await workshops.expire_offers(uow, notify, limit=OFFER_BATCH)
            await uow.commit()
        total += len(ended)
        if not ended:
            return total


async def send_tips(db: Database, translators: Translators) -> int:
    """Queue every tip that is due, a batch per transaction."""
    queued = 0
    while True:
        async with db.uow() as uow:
            sent = await tips.send_due_tips(uow, translators, limit=OFFER_BATCH)
            await uow.commit()
        queued += sent
        if sent == 0:
            return queued


async def run_broadcasts(db: Database, translators: Translators) -> int:
    """Queue broadcasts whose time has come; report those fully delivered to their senders."""
    async with db.uow() as uow:
        handled = await broadcasts.queue_due_broadcasts(uow)
        handled += await broadcasts.finish_broadcasts(uow, translators)
        await uow.commit()
    return handled


async def forget_signed_requests(db: Database, keep: timedelta = KEEP_SIGNED) -> int:
    """Delete signed pairs first used more than `keep` ago; return how many."""
    async with db.uow() as uow:
        forgotten = await signed_requests.purge(uow, utcnow() - keep)
        await uow.commit()
    return forgotten


async def every_minute(
    db: Database,
    family: FamilyNotifier,
    workshop: WorkshopNotifier,
    translators: Translators,
    stop: asyncio.Event,
) -> None:
    """Lapse offers, send due pushes and forget stale signed pairs each minute until `stop`."""
    while not stop.is_set():
        jobs = (
            ("seat offers", lapse_offers(db, family)),
            ("workshop offers", lapse_workshop_offers(db, workshop)),
            ("scheduled pushes", send_due_pushes(db, workshop)),
            ("tips", send_tips(db, translators)),
            ("broadcasts", run_broadcasts(db, translators)),
            # Each minute, not daily: every WeChat message leaves a row.
            ("signed requests", forget_signed_requests(db)),
        )
        for name, job in jobs:
            try:
                if done := await job:
                    log.info("%s: %d handled", name, done)
            except Exception:
                log.exception("%s failed; trying again in a minute", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=OFFERS_EVERY.total_seconds())
