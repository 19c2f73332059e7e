"""The conversation engine: an `Inbound` in, one step run in one transaction, replies out."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ffs_bot.db.outage import is_unavailable
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.i18n import N_, Translators, negotiate_language
from ffs_bot.messages import Inbound, Reply
from ffs_bot.notices import FamilyNotifier
from ffs_bot.privacy import DEFAULT_RETENTION_DAYS, renewal_due
from ffs_bot.safeguarding import PhraseList, load_phrases
from ffs_bot.services.conversations import (
    Pace,
    count_message,
    save_state,
    save_state_and_answer,
    window_end,
)
from ffs_bot.services.inbound import earlier_answer, record_answer
from ffs_bot.services.people import find_identity, open_conversation, set_reachable
from ffs_bot.services.safeguarding import raise_concern
from ffs_bot.workshop_notices import WorkshopNotifier
from handlers import (
    account,
    broadcasts,
    children,
    coordinator,
    coordinator_workshops,
    guardians,
    menu,
    onboarding,
    privacy,
    reports,
    roles,
    season_form,
    summer,
    tips,
    workshops,
)
from handlers.context import Context
from handlers.router import Router
from handlers.safeguarding import helpline
from handlers.text import MAX_INPUT_CHARS, Command, clean_text, match_choice, parse_command

__all__ = ["ConversationEngine", "build_router"]

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 64
# The digest of a message stopped after the helplines, in the conversation's data.
_HELD_FOR_HELPLINES = "helplines_held"
# Longer text is refused as too long anyway; screening its start bounds the work.
_SCREENED_CHARS = 2 * MAX_INPUT_CHARS
FAILURE = N_("Sorry, something went wrong on our side. Please try again in a moment.")
SLOW_DOWN = N_(
    "You are sending messages very fast. I will read your messages again from {time}. "
    "Please send again then anything I have not answered."
)


def build_router() -> Router:
    """Compose every feature's steps."""
    router = Router()
    features = (
        onboarding,
        menu,
        account,
        privacy,
        children,
        guardians,
        summer,
        workshops,
        tips,
        coordinator,
        season_form,
        coordinator_workshops,
        broadcasts,
        reports,
        roles,
    )
    for feature in features:
        router.include(feature.steps())
    return router


class ConversationEngine:
    """Runs conversations for every channel against the database."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        translators: Translators,
        router: Router,
        notify: FamilyNotifier | None = None,
        workshop_notify: WorkshopNotifier | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        *,
        phrases: PhraseList | None = None,
        max_messages_per_minute: int | None = None,
    ) -> None:
        """Wire the engine; without `phrases` the default safeguarding list screens messages.

        `max_messages_per_minute` is the per-person rate limit; None means no limit.
        """
        self._uow_factory = uow_factory
        self._retention_days = retention_days
        self._translators = translators
        self._router = router
        self._notify = notify or FamilyNotifier(translators)
        self._workshop_notify = workshop_notify or WorkshopNotifier(translators)
        self._phrases = phrases or load_phrases()
        self._max_per_minute = max_messages_per_minute

    async def handle(self, inbound: Inbound, *, raise_unavailable: bool = False) -> list[Reply]:
        """Answer one inbound message; the same message twice has one effect and one answer.

        When the step fails, the answer says so and asks the person to try again; with
        `raise_unavailable`, a database that cannot be reached raises instead, for a channel
        that keeps the message and answers it once the database is back.
        """
        language = negotiate_language(inbound.language_hint)
        try:
            async with self._uow_factory() as uow:
                # A re-delivered message is recognised at the end, when recording its answer
                # finds the earlier one: re-deliveries are rare, a read on every message not.
                ctx = await self._open(
                    uow, inbound.channel, inbound.user_id, inbound.language_hint
                )
                language = ctx.language
                pace = count_message(ctx.state, datetime.now(UTC), self._max_per_minute)
                # Screened whatever the pace: a cry for help sent in a flood is still heard.
                # After the helplines nothing else is said: the question waits for the next
                # message (unless this one is the same text again: then it is an answer).
                if await self._screen(ctx, inbound):
                    pass
                elif pace is Pace.OK and renewal_due(ctx.person):
                    await self._renewal(ctx, inbound)
                elif pace is Pace.OK:
                    await self._step(ctx, inbound)
                elif pace is Pace.SLOW_DOWN:
                    # Said once a window: the messages until then are not read, and the person
                    # knows which (those before the time) and when to send them again.
                    again = ctx.t.clock(window_end(ctx.state), await ctx.zone())
                    ctx.say_brief(ctx._(SLOW_DOWN, time=again))
                ctx.flush_notes()
                if await self._finish(ctx, inbound):
                    await uow.commit()
                    return ctx.replies
            # The same message was handled meanwhile (a re-delivery that raced this one):
            # this step was rolled back; give the answer that one got.
            return await self._earlier_answer(inbound) or []
        except Exception as exc:
            unavailable = is_unavailable(exc)
            if unavailable and raise_unavailable:
                raise
            # Never the message's text: it may hold names or worse.
            if unavailable:
                log.warning("database unreachable; message on %s not handled", inbound.channel)
            else:
                log.exception("step failed on channel %s", inbound.channel)
            # A re-delivery whose step failed on the state the first delivery left.
            with contextlib.suppress(Exception):
                if inbound.message_id and (earlier := await self._earlier_answer(inbound)):
                    return earlier
            return self.not_handled(inbound, language)

    def not_handled(self, inbound: Inbound, language: str | None = None) -> list[Reply]:
        """The answer to a message that could not be handled: try again (and any helplines)."""
        t = self._translators[language or negotiate_language(inbound.language_hint)]
        failed = [Reply(t._(FAILURE))]
        # Nothing could be recorded, but the helplines need no database.
        if inbound.text is not None and self._phrases.match(inbound.text[:_SCREENED_CHARS]):
            return [Reply(helpline(t, staff_told=False)), *failed]
        return failed

    async def resume(self, channel: str, user_id: str, language_hint: str | None) -> list[Reply]:
        """Ask again the question a person was at, or greet a newcomer (a console restarted).

        Unlike /start, which a person sends to begin again, nothing typed so far is dropped:
        a form half filled in stays half filled in.
        """
        try:
            async with self._uow_factory() as uow:
                ctx = await self._open(uow, channel, user_id, language_hint)
                if ctx.state.step in self._router and not renewal_due(ctx.person):
                    await ctx.reprompt()
                else:
                    await onboarding.start(ctx, "")
                ctx.flush_notes()
                await save_state(uow, ctx.identity.id, ctx.state)
                await uow.commit()
                return ctx.replies
        except Exception:
            log.exception("could not resume a conversation on channel %s", channel)
            return [Reply(self._translators[negotiate_language(language_hint)]._(FAILURE))]

    async def _open(
        self, uow: UnitOfWork, channel: str, user_id: str, language_hint: str | None
    ) -> Context:
        """The person, their identity and their conversation, for one message."""
        person, identity, state = await open_conversation(uow, channel, user_id, language_hint)
        return Context(
            uow,
            person,
            identity,
            state,
            self._translators,
            self._router,
            self._notify,
            self._workshop_notify,
            retention_days=self._retention_days,
        )

    async def _finish(self, ctx: Context, inbound: Inbound) -> bool:
        """Save the state and record the answer; False if the message was handled already."""
        uow, identity_id = ctx.uow, ctx.identity.id
        if not inbound.message_id:
            if not ctx.erased:
                await save_state(uow, identity_id, ctx.state)
            return True
        if ctx.erased:
            return await record_answer(uow, inbound.channel, inbound.message_id, ctx.replies)
        return await save_state_and_answer(
            uow, identity_id, ctx.state, inbound.channel, inbound.message_id, ctx.replies
        )

    async def _earlier_answer(self, inbound: Inbound) -> list[Reply] | None:
        assert inbound.message_id is not None
        async with self._uow_factory() as uow:
            return await earlier_answer(uow, inbound.channel, inbound.message_id)

    async def language_of(self, channel: str, user_id: str) -> str:
        """The language a person reads: their choice, else their app's, else Chinese."""
        async with self._uow_factory() as uow:
            found = await find_identity(uow, channel, user_id)
        if found is None:
            return negotiate_language(None)
        person, identity = found
        return person.language or negotiate_language(identity.language_hint)

    async def set_reachable(
        self, channel: str, user_id: str, *, reachable: bool, event_id: str | None = None
    ) -> None:
        """Note that a person blocked us (no more pushes) or unblocked us; once per event."""
        async with self._uow_factory() as uow:
            if event_id and await earlier_answer(uow, channel, event_id) is not None:
                return
            await set_reachable(uow, channel, user_id, reachable=reachable)
            if event_id and not await record_answer(uow, channel, event_id, []):
                return
            await uow.commit()

    async def _renewal(self, ctx: Context, inbound: Inbound) -> None:
        """Before anything else, the changed privacy notice: only its own answers are taken."""
        step = ctx.state.step
        if step not in privacy.RENEWAL_STEPS:
            await privacy.ask_renewal(ctx)
            return
        handler = self._router.get(step)
        if inbound.payload is not None:
            payload: str | None = clean_text(inbound.payload)[:MAX_PAYLOAD_CHARS]
        else:
            text = clean_text(inbound.text or "")[:MAX_INPUT_CHARS]
            payload = match_choice(ctx.state.choices, text)
        if payload is not None and await handler.on_press(ctx, payload):
            return
        if ctx.state.data.get(privacy.REFUSED):
            await privacy.ask_renewal(ctx)
            return
        # The notice is just above: a line on how to answer it, not the whole notice again.
        ctx.retry(ctx._("Please answer the question above first: tap one of the buttons."))

    async def _screen(self, ctx: Context, inbound: Inbound) -> bool:
        """Answer words that may mean danger with the helplines, and alert staff.

        Returns True when the message is to go no further: the helplines stand alone. The
        same text sent again right after is taken as the answer it may be (a health note
        that names a danger), with the helplines again.
        """
        held = ctx.state.data.pop(_HELD_FOR_HELPLINES, None)
        if inbound.text is None:
            return False
        step = ctx.state.step
        if step in self._router and not self._router.get(step).screened:
            return False
        concerns = self._phrases.match(inbound.text[:_SCREENED_CHARS])
        if not concerns:
            return False
        told = [
            await raise_concern(ctx.uow, self._translators, ctx.person, concern)
            for concern in concerns
        ]
        ctx.replies.append(Reply(helpline(ctx.t, staff_told=any(told))))
        # A digest, not the words: enough to know the same message came again.
        digest = hashlib.sha256(clean_text(inbound.text).encode("utf-8", "replace")).hexdigest()
        if held == digest[:16]:
            return False
        ctx.state.data[_HELD_FOR_HELPLINES] = digest[:16]
        return True

    async def _step(self, ctx: Context, inbound: Inbound) -> None:
        if inbound.payload is not None:
            await self._press(ctx, clean_text(inbound.payload)[:MAX_PAYLOAD_CHARS])
            return
        text = clean_text(inbound.text or "")
        if not ctx.state.step or ctx.state.step not in self._router:
            # First contact, or a step a newer release removed: (re)start the conversation.
            command = parse_command(text)
            await onboarding.start(ctx, command.argument if command else "")
            return
        if not text:
            ctx.retry(ctx._("I can only read text. Please type your answer or tap a button."))
            return
        if len(text) > MAX_INPUT_CHARS:
            ctx.retry(
                ctx._(
                    "That message is too long. Please keep it under {limit} characters.",
                    limit=MAX_INPUT_CHARS,
                )
            )
            return
        command = parse_command(text)
        if command is not None:
            await self._command(ctx, command.command, command.argument)
            return
        payload = match_choice(ctx.state.choices, text)
        if payload is not None:
            await self._press(ctx, payload)
            return
        if not await self._router.get(ctx.state.step).on_text(ctx, text):
            # A section of the main menu typed by its name opens from anywhere, as it would
            # from the main menu (only text no step took: a child may be called "我的孩子").
            section = menu.section_named(ctx, text) if ctx.person.onboarded else None
            if section is not None:
                await menu.jump(ctx, menu.JUMP_PREFIX + section)
                return
            # The question is just above: one line on what to do, not the question again.
            ctx.retry(ctx._("Sorry, I didn't understand that. Tap a button, or send help."))

    async def _press(self, ctx: Context, payload: str) -> None:
        global_commands = {command.value: command for command in Command}
        if payload in global_commands and payload != Command.START:
            await self._command(ctx, global_commands[payload], "")
            return
        if payload.startswith(menu.JUMP_PREFIX):
            await menu.jump(ctx, payload)
            return
        step = ctx.state.step
        if step in self._router and await self._router.get(step).on_press(ctx, payload):
            return
        # An offer's buttons arrive in a push, whatever step the person is at.
        if ctx.person.onboarded and (
            await summer.answer_offer(ctx, payload)
            or await workshops.global_press(ctx, payload)
            or await tips.global_press(ctx, payload)
            or await guardians.global_press(ctx, payload)
        ):
            return
        if not step:
            await onboarding.start(ctx, "")
            return
        ctx.say_brief(ctx._("That button is no longer active. Send menu to see your options."))

    async def _command(self, ctx: Context, command: Command, argument: str) -> None:
        if command is Command.START:
            await onboarding.start(ctx, argument)
        elif command is Command.MENU:
            await menu.open_menu(ctx, leaving=True)
        elif command is Command.HELP:
            ctx.note(menu.help_text(ctx))
            if ctx.state.step:
                await ctx.reprompt()
        elif command is Command.LANGUAGE:
            await onboarding.choose_language(ctx)
        else:
            await menu.cancel(ctx)
