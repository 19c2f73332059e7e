"""The Telegram channel: store each update durably, then answer it, one chat at a time.

A process that polls holds the poller role (`SoleRole`, PostgreSQL): Telegram hands updates
to one poller at a time, and the role makes sure that poller is the only process answering.
With several webhook processes on PostgreSQL (replicas behind a load balancer), a chat's
updates may be stored by different processes. Each chat is then answered by one process at a
time, the one holding its claim (`ChatClaims`): it answers every update of the chat still
pending, in the order they were stored, sending each answer before the next step, and
marks them done before it lets the claim go. So one person's answers come in order and
once, whichever process took each update.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import BotCommand
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.scheduler import ChatScheduler, sleep_unless
from bot.telegram.adapter import (
    ALLOWED_UPDATES,
    CHANNEL,
    Converted,
    chat_key,
    convert,
    send_reply,
    unreadable,
    update_id,
)
from bot.telegram.adapter import message_arguments as reply_arguments
from bot.telegram.bot import JsonBot
from bot.telegram.ratelimit import retry_seconds
from ffs_bot.db.claims import ChatClaims, ClaimTicket, SoleRole
from ffs_bot.db.outage import is_unavailable, retry_delay
from ffs_bot.db.uow import Database
from ffs_bot.i18n import N_, Translator, negotiate_language
from ffs_bot.messages import Reply
from ffs_bot.services.updates import (
    StoredUpdate,
    chat_pending,
    mark_updates_done,
    pending_updates,
    store_unreadable,
    store_updates,
)
from handlers.engine import ConversationEngine

__all__ = ["COMMANDS", "TelegramChannel"]

log = logging.getLogger(__name__)

COMMANDS = [
    ("start", N_("Start, or start again")),
    ("menu", N_("Main menu")),
    ("language", N_("中文 or English")),
    ("help", N_("Help")),
    ("cancel", N_("Stop what you are doing")),
]
# Told once per chat while the database cannot be reached: the update is kept (by us, or
# by Telegram until we confirm it) and answered when the database is back, so asking the
# person to send it again would only answer it twice.
OUTAGE_NOTICE = N_(
    "Sorry, we have a technical problem. We will answer your message shortly; "
    "there is no need to send it again."
)
POLL_TIMEOUT = 30
SEND_ATTEMPTS = 3
DONE_BATCH_WAIT = 0.05
# How long a stop waits for updates already being answered.
STOP_GRACE = 20.0
# With claims: how often to look for updates nobody answered (their process died), and
# how old they must be (younger ones are most likely waiting their turn in a live process).
SWEEP_SECONDS = 60.0
STALE_AFTER = timedelta(seconds=60)
# With claims: how soon to ask again for the chat of a leftover another session holds. A
# process killed a moment ago may hold its claims until its database session has ended.
HELD_RETRY_SECONDS = 1.0
# Polling: how often a process that does not hold the poller role asks for it again.
ROLE_RETRY_SECONDS = 1.0
# Updates answered here, remembered so as not to answer them again: far more than can be in
# flight between a chat's pending read and the done mark (seconds of traffic).
ANSWERED_MEMORY = 50_000


@dataclass(frozen=True, slots=True)
class _Job:
    """An update to answer; a leftover is left to a process that holds its chat already."""

    stored: StoredUpdate
    leftover: bool = False


class TelegramChannel:
    """Receives updates (polling or webhook), keeps them, and answers them in order."""

    def __init__(
        self,
        bot: JsonBot,
        conversations: ConversationEngine,
        db: Database,
        translators: dict[str, Translator],
        *,
        concurrency: int = 64,
        claims: ChatClaims | None = None,
        poller: SoleRole | None = None,
    ) -> None:
        """Wire the channel: `claims` for webhook replicas, `poller` to poll (PostgreSQL)."""
        self.bot = bot
        self._conversations = conversations
        self._db = db
        self._translators = translators
        self._claims = claims
        self._poller = poller
        # Whether this process polls as the poller role's holder (and answered leftovers).
        self._polling = False
        self._waiting = False
        self._scheduler: ChatScheduler[_Job] = ChatScheduler(self._handle, concurrency)
        # Handled updates are marked done in batches: one write for many. A crash before
        # the mark re-answers those updates from their stored answers, nothing more.
        self._done: list[int] = []
        # Claims whose chats' updates are in `_done`: let go once those are marked.
        self._tickets: list[ClaimTicket] = []
        self._done_waiting = asyncio.Event()
        self._marker: asyncio.Task[None] | None = None
        # Chats told about the current database outage; forgotten once it is over.
        self._told: set[int] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # With claims: updates queued here and not yet answered (here or elsewhere), and
        # the last ones answered here (not to answer again). Kept past their done mark: a
        # chat's pending updates read just before the mark committed still list them.
        self._queued: set[int] = set()
        self._answered: dict[int, None] = {}
        # Leftovers whose chat another session held when we asked: asked for again soon.
        self._held: dict[int, StoredUpdate] = {}
        # Polling: updates stored from the last batch, answered once the next poll is made.
        self._unanswered: list[StoredUpdate] = []

    async def start(self) -> None:
        """Connect, set the command menus, and pick up updates a crash left unanswered.

        With the poller role, leftovers wait until the role is taken: the process that
        holds it may still be answering them.
        """
        await self.bot.initialize()
        self._marker = asyncio.create_task(self._mark_done_forever(), name="telegram-done")
        if self._poller is None:
            await self._take_up_leftovers()
        if self._claims is not None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="telegram-sweep")

    async def set_commands(self) -> None:
        """Set the bot's command menu in Chinese (the default) and in English."""
        for language, code in (("zh_Hans", None), ("en", "en")):
            t = self._translators[language]
            await self.bot.set_my_commands(
                [BotCommand(name, t._(description)) for name, description in COMMANDS],
                language_code=code,
            )

    async def accept(self, bodies: list[dict[str, Any]]) -> None:
        """Store raw updates durably, then queue the new ones to be answered.

        Only after this returns may an update be confirmed to Telegram (the next poll's
        offset, or the webhook's 200). When the database cannot be reached, the people who
        wrote are told they will be answered shortly, and the error is raised.
        """
        for stored in await self._store(bodies):
            self._submit(stored)

    async def _store(self, bodies: list[dict[str, Any]]) -> list[StoredUpdate]:
        """Store raw updates durably; return the ones not stored before (see `accept`).

        An update that cannot be read is stored finished, with a note in its place: were it
        left to answer, it would fail the same way at every restart.
        """
        rows: list[tuple[str, str, dict[str, Any]]] = []
        notes: list[tuple[str, str]] = []
        for body in bodies:
            if (number := update_id(body)) is None:
                continue
            if (problem := unreadable(body)) is not None:
                notes.append((str(number), problem))
            else:
                rows.append((str(number), chat_key(body), body))
        try:
            async with self._db.uow() as uow:
                new = await store_updates(uow, CHANNEL, rows)
                dropped = await store_unreadable(uow, CHANNEL, notes)
                await uow.commit()
        except Exception as exc:
            if is_unavailable(exc):
                await self._tell_outage([_readable(body) for body in bodies])
            raise
        self._told.clear()
        for external_id in dropped:
            log.warning("update %s cannot be read; stored as finished", external_id)
        return new

    async def _take_up_leftovers(self) -> None:
        async with self._db.uow() as uow:
            leftover = await pending_updates(uow, CHANNEL)
        if leftover:
            log.info("answering %d updates stored before the last stop", len(leftover))
        for stored in leftover:
            self._submit(stored, leftover=True)

    def _submit(self, stored: StoredUpdate, *, leftover: bool = False) -> None:
        if self._claims is not None:
            self._queued.add(stored.id)
        self._scheduler.submit(stored.chat_key, _Job(stored, leftover))

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll for updates until `stop` is set; confirm each batch only once stored.

        A batch is answered once the next poll is on its way. Answering it first, the next
        poll would wait for the whole batch's work: the event loop runs every task that is
        ready in turn, and aiohttp writes a request one turn after it is made (from a task of
        its own). Every update of the next batch waited that long for its poll.
        """
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        failures = 0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if self._poller is not None and not await self._hold_poller(stop):
                    offset = None
                    continue
                if self._unanswered:
                    # From the next turn: this turn makes the poll, and the next writes it.
                    loop.call_soon(self._answer_batch)
                offset, failures = await self._poll_once(stop, offset, failures)
        finally:
            self._answer_batch()

    def _answer_batch(self) -> None:
        """Queue the updates stored by the last poll to be answered."""
        batch, self._unanswered = self._unanswered, []
        for stored in batch:
            self._submit(stored)

    async def _poll_once(
        self, stop: asyncio.Event, offset: int | None, failures: int
    ) -> tuple[int | None, int]:
        """Fetch and store one batch; return the offset that confirms it, and the failures."""
        try:
            updates = await self.bot.get_updates_json(
                offset=offset, poll_timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
            )
        except RetryAfter as exc:
            await sleep_unless(stop, retry_seconds(exc))
            return offset, failures
        except (NetworkError, TelegramError) as exc:
            # Network trouble, or Telegram refusing (409: another instance is polling).
            failures += 1
            log.warning("polling failed (%d in a row): %s; retrying", failures, type(exc).__name__)
            await sleep_unless(stop, min(2.0**failures, 30.0))
            return offset, failures
        if updates:
            try:
                self._unanswered.extend(await self._store(updates))
            except Exception as exc:
                # Not stored, so not confirmed: the next poll fetches them again.
                failures += 1
                if is_unavailable(exc):
                    log.warning("database unreachable; %d updates wait", len(updates))
                    wait = retry_delay(failures)
                else:
                    log.exception("could not store updates (%d in a row)", failures)
                    wait = min(2.0**failures, 30.0)
                await sleep_unless(stop, wait)
                return offset, failures
            # Confirmed past the last one with an id: the others were never Telegram's.
            numbers = [number for body in updates if (number := update_id(body)) is not None]
            offset = max(numbers) + 1 if numbers else offset
        return offset, 0

    async def _hold_poller(self, stop: asyncio.Event) -> bool:
        """Whether to poll now: this process holds the poller role (checked before each poll).

        Taking the role, it first answers what the last holder left. Losing it to another
        process (its connection died), it stops polling and finishes what it has.
        """
        assert self._poller is not None
        try:
            held = await self._poller.check()
            if held and not self._polling:
                await self._take_up_leftovers()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if self._polling:
                # Nobody can store updates either: polling on tells people to wait.
                return True
            await sleep_unless(stop, ROLE_RETRY_SECONDS)
            return False
        if held and not self._polling:
            log.info("polling Telegram; no other process polls while this one does")
            self._polling = True
            self._waiting = False
            return True
        if not held:
            if self._polling:
                log.warning("another process polls Telegram now; finishing what was taken")
                self._polling = False
                await self.join()
            elif not self._waiting:
                log.info("another process polls Telegram; waiting to take over from it")
                self._waiting = True
            await sleep_unless(stop, ROLE_RETRY_SECONDS)
        return held

    async def join(self) -> None:
        """Wait until every update accepted so far has been answered and marked done."""
        self._answer_batch()
        await self._scheduler.join()
        await self._mark_done()

    async def stop(self) -> None:
        """Finish the updates being answered; the rest stay stored for the next start."""
        await self._scheduler.close(STOP_GRACE)
        for task in (self._marker, self._sweeper):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        try:
            await self._mark_done()
        finally:
            if self._claims is not None:
                await self._claims.close()
            if self._poller is not None:
                await self._poller.release()
        await self.bot.shutdown()

    async def _mark_done_forever(self) -> None:
        while True:
            await self._done_waiting.wait()
            # Let the updates being answered right now join this batch.
            await asyncio.sleep(DONE_BATCH_WAIT)
            try:
                await self._mark_done()
            except Exception:
                log.exception("could not mark updates done; will try again")
                await asyncio.sleep(1.0)

    async def _mark_done(self) -> None:
        self._done_waiting.clear()
        batch, self._done = self._done, []
        tickets, self._tickets = self._tickets, []
        if batch:
            try:
                async with self._db.uow() as uow:
                    await mark_updates_done(uow, batch)
                    await uow.commit()
            except BaseException:
                self._done[:0] = batch
                self._tickets[:0] = tickets
                self._done_waiting.set()
                raise
        if tickets and self._claims is not None:
            # Only now: the next process to claim these chats must find them done.
            await self._claims.release(tickets)

    async def _sweep_forever(self) -> None:
        """Take up updates left pending by a process that stopped answering (it died)."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_SECONDS
        while True:
            await asyncio.sleep(HELD_RETRY_SECONDS)
            held, self._held = self._held, {}
            for stored in held.values():
                if stored.id not in self._queued:
                    self._submit(stored, leftover=True)
            if loop.time() < next_sweep:
                continue
            next_sweep = loop.time() + SWEEP_SECONDS
            try:
                async with self._db.uow() as uow:
                    stale = await pending_updates(uow, CHANNEL, older_than=STALE_AFTER)
            except Exception:
                log.warning("could not look for unanswered updates", exc_info=True)
                continue
            for stored in stale:
                if stored.id not in self._queued:
                    self._submit(stored, leftover=True)

    async def _handle(self, job: _Job) -> None:
        """Answer one stored update (with claims, every pending one of its chat), mark done."""
        if self._claims is None:
            await self._answer_stored(job.stored)
            self._done.append(job.stored.id)
            self._done_waiting.set()
            return
        stored = job.stored
        if stored.id not in self._queued:
            return  # answered here already, with an earlier update of its chat
        try:
            taken = await self._claims.take(CHANNEL, stored.chat_key, wait=not job.leftover)
        except BaseException:
            self._queued.discard(stored.id)  # the sweep takes it up
            raise
        if not taken:
            self._queued.discard(stored.id)
            if job.leftover:
                # A live process answers it with its chat's other updates, or a killed one's
                # session still holds the claim for a moment: ask again soon, not at the
                # next sweep a minute or two on. Once pending no more, the ask is a no-op.
                self._held[stored.id] = stored
            return
        answered: list[int] = []
        try:
            async with self._db.uow() as uow:
                todo = await chat_pending(uow, CHANNEL, stored.chat_key)
            for update in todo:
                self._queued.discard(update.id)
                if update.id in self._answered:
                    continue  # answered here a moment ago
                try:
                    await self._answer_stored(update)
                except Exception:
                    # Left pending, as without claims: taken up again later.
                    log.exception("handling an update of a chat failed")
                    continue
                answered.append(update.id)
        finally:
            self._queued.discard(stored.id)
            self._done.extend(answered)
            self._remember(answered)
            self._tickets.append(self._claims.put_down(CHANNEL, stored.chat_key))
            self._done_waiting.set()

    def _remember(self, answered: list[int]) -> None:
        """Note updates answered here; the oldest are forgotten past `ANSWERED_MEMORY`."""
        self._answered.update(dict.fromkeys(answered))
        for _ in range(len(self._answered) - ANSWERED_MEMORY):
            del self._answered[next(iter(self._answered))]

    async def _answer_stored(self, stored: StoredUpdate) -> None:
        """Answer one stored update."""
        # What is stored was read when it was stored; None is what we ignore.
        converted = _readable(stored.body)
        failures = 0
        while converted is not None:
            try:
                await self._answer(converted, stored.external_id)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                # Stored and perhaps confirmed: it must be answered, so it waits (and the
                # chat's later updates behind it) until the database is back.
                log.warning("database unreachable; update %s waits", stored.external_id)
                await self._tell_outage([converted])
                failures += 1
                await asyncio.sleep(retry_delay(failures))
                continue
            self._told.discard(converted.chat_id)
            break

    async def _tell_outage(self, updates: list[Converted | None]) -> None:
        """Tell each chat once per outage that its message will be answered shortly."""
        chats: dict[int, str | None] = {}
        for converted in updates:
            if converted is None or converted.inbound is None:
                continue
            if converted.chat_id not in self._told:
                chats.setdefault(converted.chat_id, converted.inbound.language_hint)
        self._told.update(chats)
        results = await asyncio.gather(
            *(
                self.bot.send_message(
                    chat_id=chat_id,
                    text=self._translators[negotiate_language(hint)]._(OUTAGE_NOTICE),
                )
                for chat_id, hint in chats.items()
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                log.warning("could not tell a chat about the outage: %s", type(result).__name__)

    async def _answer(self, converted: Converted, external_id: str) -> None:
        if converted.reachable is not None:
            await self._conversations.set_reachable(
                CHANNEL, converted.user_id, reachable=converted.reachable, event_id=external_id
            )
            return
        assert converted.inbound is not None
        replies = await self._conversations.handle(converted.inbound, raise_unavailable=True)
        if converted.callback_query_id is not None:
            await self._answer_press(converted, replies)
        else:
            await self.send(converted.chat_id, converted.user_id, replies)

    async def _answer_press(self, converted: Converted, replies: list[Reply]) -> None:
        """Answer the press (as a pop-up for a brief notice), take the buttons away, reply.

        The three calls go out together: they touch different messages, and one after the
        other they would hold the person's next update back by three round trips.
        """
        toast = replies[0].text if len(replies) == 1 and replies[0].brief else None
        assert converted.callback_query_id is not None
        if replies and replies[0].edit and replies[0].attachment is None:
            # Figures refreshed in place: the pressed message itself shows the new ones.
            arguments = reply_arguments(replies[0])
            change = self.bot.edit_message_text(
                chat_id=converted.chat_id, message_id=converted.pressed_message_id, **arguments
            )
            replies = replies[1:]
        else:
            change = self.bot.edit_message_reply_markup(
                chat_id=converted.chat_id,
                message_id=converted.pressed_message_id,
                reply_markup=None,
            )
        results = await asyncio.gather(
            self.bot.answer_callback_query(converted.callback_query_id, text=toast),
            change,
            self.send(converted.chat_id, converted.user_id, [] if toast is not None else replies),
            return_exceptions=True,
        )
        blocked = False
        for result in results:
            # An old message can no longer be edited, and a press answered late is
            # refused; neither should stop the answer itself.
            if isinstance(result, BadRequest):
                log.debug("press acknowledgement refused: %s", result.message)
            elif isinstance(result, Forbidden):
                blocked = True
            elif isinstance(result, BaseException):
                raise result
        if blocked:
            await self._blocked(converted.user_id)

    async def send(self, chat_id: int, user_id: str, replies: list[Reply]) -> None:
        """Send replies in order; a person who blocked us is marked stopped."""
        for reply in replies:
            for attempt in range(1, SEND_ATTEMPTS + 1):
                try:
                    await send_reply(self.bot, chat_id, reply)
                except Forbidden:
                    await self._blocked(user_id)
                    return
                except BadRequest as exc:
                    log.warning("Telegram refused a reply: %s", exc.message)
                except NetworkError:
                    # After the last attempt the update stays not done: after a restart it
                    # is answered again from the stored answer, without running the step.
                    if attempt == SEND_ATTEMPTS:
                        raise
                    await asyncio.sleep(2.0 ** (attempt - 1))
                    continue
                break

    async def _blocked(self, user_id: str) -> None:
        await self._conversations.set_reachable(CHANNEL, user_id, reachable=False)


def _readable(body: dict[str, Any]) -> Converted | None:
    """An update as `convert` reads it; None when it cannot be read."""
    try:
        return convert(body)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
