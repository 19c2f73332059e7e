"""The outbox worker: claims due pushes and sends them, within each channel's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.scheduler import sleep_unless
from ffs_bot.db.claims import SoleRole
from ffs_bot.db.outage import is_unavailable, retry_delay
from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.delivery import Delivery, Outcome, Sender
from ffs_bot.outbox import (
    OutboxMessage,
    claim_due,
    release_claims,
    settle_failed,
    settle_retry,
    settle_sent,
    settle_stopped,
)
from ffs_bot.services.people import set_reachable

__all__ = ["OutboxWorker"]

log = logging.getLogger(__name__)

# How often a worker confirms it holds the sender role, or asks for it while another has it.
ROLE_CHECK_SECONDS = 1.0


class OutboxWorker:
    """Keeps up to `in_flight` sends going; the senders' rate limiters space them out.

    With a `role` (PostgreSQL), only the worker that holds it sends: each process paces its
    own sends, and Telegram's 30 a second is for the bot as a whole, so two sending at once
    would only earn 429s. Another worker stands by and takes over when the holder's
    connection goes (its process stopped or died). Claims, not the role, keep a push from
    being sent twice.
    """

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        *,
        in_flight: int = 64,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 5,
        idle_wait: float = 1.0,
        role: SoleRole | None = None,
    ) -> None:
        """Wire the worker; `role` makes it one of several that take turns (see above)."""
        self._db = db
        self._senders = dict(senders)
        self._in_flight = in_flight
        self._lease = lease
        self._max_attempts = max_attempts
        self._idle_wait = idle_wait
        self._tasks: set[asyncio.Task[None]] = set()
        self._settled = asyncio.Event()
        # The lease ends of claims that failed as they ran: perhaps made, never sent.
        self._unsure: list[datetime] = []
        self._role = role
        # When the role was last confirmed held (the loop's clock), and whether it was
        # (None: not asked yet, so the first answer is logged either way).
        self._role_checked = -ROLE_CHECK_SECONDS
        self._sending: bool | None = True if role is None else None

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then let the sends under way finish."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    if not await self._may_send():
                        await sleep_unless(stop, ROLE_CHECK_SECONDS)
                        continue
                    started = await self.fill()
                except Exception as exc:
                    # A worker that stopped here would leave pushes unsent while the
                    # process looks alive: wait, and claim again.
                    failures += 1
                    if is_unavailable(exc):
                        log.warning("database unreachable (%d in a row); waiting", failures)
                    else:
                        log.exception("claiming pushes failed (%d in a row)", failures)
                    await sleep_unless(stop, retry_delay(failures))
                    continue
                failures = 0
                if started == 0 or len(self._tasks) >= self._in_flight:
                    await self._wait(stop)
        finally:
            await self.finish()
            if self._role is not None:
                await self._role.release()

    async def _may_send(self) -> bool:
        """Whether this worker sends now: it holds the sender role, or there is none.

        Confirmed once a second, not before every claim: a holder whose connection died
        may send for up to a second more while another takes over. That costs pace, not
        duplicates.
        """
        if self._role is None:
            return True
        loop = asyncio.get_running_loop()
        if self._sending and loop.time() - self._role_checked < ROLE_CHECK_SECONDS:
            return True
        held = await self._role.check()
        self._role_checked = loop.time()
        if held != self._sending:
            if held:
                log.info("sending pushes; other workers stand by")
            else:
                log.info("another worker sends pushes; standing by to take over")
        self._sending = held
        return held

    async def fill(self) -> int:
        """Claim as many due rows as there is room for and start sending them."""
        # Cleared before claiming: a send that settles while we claim wakes the next wait.
        self._settled.clear()
        room = self._in_flight - len(self._tasks)
        if room <= 0 or not self._senders:
            return 0
        now = utcnow()
        try:
            async with self._db.uow() as uow:
                if self._unsure:
                    await release_claims(uow, self._unsure)
                claimed = await claim_due(
                    uow, channels=list(self._senders), limit=room, lease=self._lease, now=now
                )
                await uow.commit()
        except BaseException:
            # Lost at the commit, the claim may have been made: its rows are put back with
            # the next claim rather than wait for the lease to run out. Only leases still
            # running are kept; the rows of one that ran out are due again anyway.
            self._unsure = [end for end in self._unsure if end > now]
            self._unsure.append(now + self._lease)
            raise
        self._unsure.clear()
        for message in claimed:
            task = asyncio.create_task(self._deliver(message))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    async def drain(self) -> None:
        """Send everything due now, and what becomes due while doing so (for tests, CLI)."""
        while True:
            # A send settling during the claim can make a row due (the next for its chat),
            # so stop only when nothing was in flight while claiming.
            busy = bool(self._tasks)
            started = await self.fill()
            if not started and not busy and not self._tasks:
                return
            if not started:
                await self._wait(None)

    async def finish(self) -> None:
        """Wait for the sends under way."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._settled.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering a push failed", exc_info=task.exception())

    async def _wait(self, stop: asyncio.Event | None) -> None:
        """Sleep until a send settles, `stop` is set, or it is time to look for due rows."""
        waiters = [asyncio.ensure_future(self._settled.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        _done, pending = await asyncio.wait(
            waiters, timeout=self._idle_wait, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    async def _deliver(self, message: OutboxMessage) -> None:
        sender = self._senders[message.channel]
        try:
            delivery = await sender.send(message.recipient, message.replies, kind=message.kind)
        except Exception as exc:
            log.exception("sender raised for outbox row %d", message.id)
            delivery = Delivery(Outcome.RETRY, error=type(exc).__name__)
        # Sent but not settled, the row would be sent again when its lease runs out: while
        # the database cannot be reached, keep trying for half the lease.
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._lease.total_seconds() / 2
        failures = 0
        while True:
            try:
                await self._settle(message, delivery)
                return
            except Exception as exc:
                failures += 1
                wait = retry_delay(failures)
                if not is_unavailable(exc) or loop.time() + wait > give_up:
                    raise
                log.warning("database unreachable; outbox row %d waits to settle", message.id)
            await asyncio.sleep(wait)

    async def _settle(self, message: OutboxMessage, delivery: Delivery) -> None:
        async with self._db.uow() as uow:
            if delivery.outcome is Outcome.SENT:
                await settle_sent(uow, message.id)
            elif delivery.outcome is Outcome.BLOCKED:
                await settle_stopped(uow, message.id)
                await set_reachable(uow, message.channel, message.recipient, reachable=False)
            elif delivery.outcome is Outcome.FAILED:
                await settle_failed(uow, message.id, delivery.error)
            elif delivery.retry_after is not None:
                # The channel's own "wait": not the message's fault, not an attempt.
                await settle_retry(
                    uow,
                    message.id,
                    delay=timedelta(seconds=delivery.retry_after),
                    error=delivery.error,
                    count_attempt=False,
                )
            elif message.attempts >= self._max_attempts:
                await settle_failed(uow, message.id, f"gave up: {delivery.error}")
            else:
                backoff = timedelta(seconds=min(2**message.attempts, 300))
                await settle_retry(uow, message.id, delay=backoff, error=delivery.error)
            await uow.commit()
