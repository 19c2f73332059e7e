"""Parent workshops for workers: see what is coming, book, cancel, check in, say how it was."""

from __future__ import annotations

from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.i18n import N_, display_width
from ffs_bot.messages import Choice
from ffs_bot.services import workshops
from ffs_bot.services.workshops import Booking, BookingStatus, Workshop
from ffs_bot.workshop_notices import when, workshop_offer_payload
from handlers import menu
from handlers.confirm import ConfirmCancelStep
from handlers.context import Context
from handlers.payloads import payload_id, record_id
from handlers.router import Step

__all__ = ["WORKSHOPS", "global_press", "steps"]

WORKSHOPS = menu.WORKSHOPS
ONE = "ws.one"
MINE = "ws.mine"
CANCEL = "ws.cancel"
DOOR = "ws.door"
COMMENT = "ws.comment"


def _when(ctx: Context, workshop: Workshop) -> str:
    return when(ctx.t, workshop.starts_at, workshop.ends_at, workshop.timezone)


# A workshop's language as the reader says it: （英语课）, not （English）, on a Chinese screen.
_TAUGHT_IN = {"zh_Hans": N_("in Chinese"), "en": N_("in English")}
_LANGUAGE_NAMES = {"zh_Hans": N_("Chinese"), "en": N_("English")}


def _taught_in(ctx: Context, language: str) -> str:
    """The workshop's language as a tag after its topic, in the reader's words."""
    msgid = _TAUGHT_IN.get(language)
    return ctx._(msgid) if msgid else language


def _language_name(ctx: Context, language: str) -> str:
    """The workshop's language named in the reader's words."""
    msgid = _LANGUAGE_NAMES.get(language)
    return ctx._(msgid) if msgid else language


def _button_name(ctx: Context, workshop: Workshop) -> str:
    """The workshop on a button: its day and topic, short enough for a phone."""
    topic = workshop.topic
    # About half a phone's width: 12 Chinese characters or 24 letters.
    while display_width(topic) > 24:
        topic = topic[:-2] + "…"
    return f"{ctx.t.weekday_date(workshop.starts_at, workshop.timezone)} {topic}"


def _back(ctx: Context) -> Choice:
    return Choice(ctx._("All workshops"), "ws:list")


# One rule for the worker at the door and the coordinator (`workshops.check_in_open`).
CHECK_IN_RULE = N_("Check-in opens an hour before the workshop starts and closes when it ends.")

_CHOSEN = "workshop"
_BOOKED = "workshops.booked"  # the bookings listed with a new one, in Context.read


async def _chosen(ctx: Context) -> Workshop | None:
    workshop_id = int(ctx.state.data.get("workshop", 0))
    # Opening a workshop asks in the press and again in the prompt; booking changes its
    # seats, and moves on to another step.
    read = ctx.read.get(_CHOSEN)
    if isinstance(read, Workshop) and read.id == workshop_id:
        return read
    try:
        workshop = await workshops.workshop_for_worker(ctx.uow, ctx.person.id, workshop_id)
    except NotFound:
        return None
    ctx.read[_CHOSEN] = workshop
    return workshop


class WorkshopsStep(Step):
    """The workshops coming up at the person's factory."""

    name = WORKSHOPS

    async def prompt(self, ctx: Context) -> None:
        """List them, soonest first."""
        found = (
            await workshops.upcoming_workshops(ctx.uow, ctx.person.factory_id)
            if ctx.person.factory_id
            else []
        )
        extra = [
            Choice(ctx._("My bookings"), "ws:mine"),
            Choice(ctx._("Check in at the door"), "ws:door"),
            menu.main_menu_choice(ctx),
        ]
        if not found:
            ctx.say(ctx._("No parent workshop is planned at your factory yet."), extra)
            return
        lines = [ctx._("Parent workshops at your factory:")]
        for n, workshop in enumerate(found, 1):
            lines.append(
                ctx._(
                    "{n}. {when}\n   {topic} ({language}) · {left}",
                    n=n,
                    when=_when(ctx, workshop),
                    topic=workshop.topic,
                    language=_taught_in(ctx, workshop.language),
                    left=_seats_left(ctx, workshop),
                )
            )
        ctx.say(
            "\n".join(lines),
            [
                *(
                    Choice(
                        f"{ctx.t.weekday_date(w.starts_at, w.timezone)} {w.topic}",
                        f"ws:open:{w.id}",
                    )
                    for w in found
                ),
                *extra,
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open a workshop, the bookings, or the door check-in."""
        if payload in ("ws:mine", "ws:door"):
            await ctx.go(MINE if payload == "ws:mine" else DOOR)
            return True
        if (number := payload_id(payload, "ws:open:")) is None:
            return False
        ctx.state.data["workshop"] = number
        if await _chosen(ctx) is None:
            return False
        await ctx.go(ONE)
        return True


def _seats_left(ctx: Context, workshop: Workshop) -> str:
    if workshop.seats_left == 0:
        return ctx._("full: you can join the waiting list")
    return ctx.t.ngettext("{n} seat left", "{n} seats left", workshop.seats_left)


class WorkshopStep(Step):
    """One workshop, and booking it."""

    name = ONE

    async def prompt(self, ctx: Context) -> None:
        """Show the details and the button to book."""
        workshop = await _chosen(ctx)
        if workshop is None or workshop.cancelled:
            await ctx.go(WORKSHOPS)
            return
        lines = [
            workshop.topic,
            _when(ctx, workshop),
            ctx._(
                "Language: {language}",
                language=_language_name(ctx, workshop.language),
            ),
        ]
        if workshop.place:
            lines.append(ctx._("Place: {place}", place=workshop.place.pick(ctx.language)))
        if workshop.trainer:
            lines.append(ctx._("Trainer: {name}", name=workshop.trainer))
        lines.append(_seats_left(ctx, workshop))
        book = ctx._("Book a seat") if workshop.seats_left else ctx._("Join the waiting list")
        ctx.say("\n".join(lines), [Choice(book, "ws:book"), _back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Book, or go back to the list."""
        if payload == "ws:list":
            await ctx.go(WORKSHOPS)
            return True
        if payload != "ws:book":
            return False
        try:
            # The workshop comes back with the booking (read once, held for its seats), and
            # the person's bookings with it.
            booked = await workshops.book(
                ctx.uow,
                ctx.workshop_notify,
                person_id=ctx.person.id,
                workshop_id=int(ctx.state.data.get("workshop", 0)),
            )
        except NotFound:
            return False
        except InvalidInput:
            ctx.note(ctx._("This workshop has started or was cancelled: booking is closed."))
            await ctx.go(WORKSHOPS)
            return True
        except ConflictError as problem:
            if str(problem) == "overlap":
                ctx.note(ctx._("You have booked another workshop at the same time."))
            else:
                ctx.note(ctx._("You have booked this workshop already."))
            await ctx.go(MINE)
            return True
        assert booked.booking.workshop is not None
        ctx.note(_booking_text(ctx, booked.booking, booked.booking.workshop))
        ctx.read[_BOOKED] = booked.mine
        await ctx.go(MINE)
        return True


def _booking_text(ctx: Context, booking: Booking, workshop: Workshop) -> str:
    """What a booking or an answered offer came to, said once as a note above the list."""
    if booking.status == BookingStatus.CONFIRMED:
        return ctx._(
            "Booked: “{topic}”, {when}. Your booking code is {code}. "
            "We will remind you before it starts.",
            topic=workshop.topic,
            when=_when(ctx, workshop),
            code=booking.code,
        )
    if booking.status == BookingStatus.OFFERED:
        return ctx._(
            "A seat is offered to you at “{topic}”, {when}. Tap Yes or No below.",
            topic=workshop.topic,
            when=_when(ctx, workshop),
        )
    return ctx._(
        "“{topic}” is full. You are number {n} on the waiting list; "
        "we will tell you if a seat opens.",
        topic=workshop.topic,
        n=booking.queue_position or 0,
    )


def _booking_line(ctx: Context, booking: Booking, workshop: Workshop) -> str:
    """One booking in the person's list: what, when, and where it stands, on one line."""
    topic, start = workshop.topic, _when(ctx, workshop)
    if booking.status == BookingStatus.CONFIRMED:
        return ctx._(
            "“{topic}”, {when}: booked, booking code {code}",
            topic=topic,
            when=start,
            code=booking.code,
        )
    if booking.status == BookingStatus.OFFERED:
        return ctx._("“{topic}”, {when}: seat offered, answer below", topic=topic, when=start)
    if booking.status == BookingStatus.CANCELLED:
        why = {
            workshops.WORKSHOP_CANCELLED: N_(
                "“{topic}”, {when}: cancelled, the workshop was called off"
            ),
            workshops.OFFER_DECLINED: N_("“{topic}”, {when}: cancelled, you passed on the seat"),
            workshops.OFFER_EXPIRED: N_(
                "“{topic}”, {when}: cancelled, the seat offered was not taken in time"
            ),
        }.get(booking.reason, N_("“{topic}”, {when}: cancelled"))
        return ctx._(why, topic=topic, when=start)
    return ctx._(
        "“{topic}”, {when}: waiting list, number {n}",
        topic=topic,
        when=start,
        n=booking.queue_position or 0,
    )


class MineStep(Step):
    """The person's bookings, each with a way to cancel (or answer an offer)."""

    name = MINE

    async def prompt(self, ctx: Context) -> None:
        """List the bookings."""
        # Just after booking, the list that came with the booking.
        found = ctx.read.pop(_BOOKED, None)
        if found is None:
            found = await workshops.my_bookings(ctx.uow, ctx.person.id)
        if not found:
            ctx.say(ctx._("You have no workshop bookings."), [_back(ctx)])
            return
        lines = [ctx._("Your workshop bookings:")]
        buttons: list[Choice] = []
        for n, booking in enumerate(found, 1):
            assert booking.workshop is not None
            lines.append(f"{n}. " + _booking_line(ctx, booking, booking.workshop))
            # Buttons name the workshop: a number would point elsewhere once the list changes.
            which = _button_name(ctx, booking.workshop)
            if booking.status == BookingStatus.OFFERED:
                buttons += [
                    Choice(
                        ctx._("Yes, I take the seat: {workshop}", workshop=which),
                        workshop_offer_payload("yes", booking.id),
                    ),
                    Choice(
                        ctx._("No, pass it on: {workshop}", workshop=which),
                        workshop_offer_payload("no", booking.id),
                    ),
                ]
            elif booking.status != BookingStatus.CANCELLED:
                buttons.append(
                    Choice(ctx._("Cancel: {workshop}", workshop=which), f"ws:cancel:{booking.id}")
                )
        ctx.say("\n".join(lines), [*buttons, _back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask before cancelling."""
        if payload == "ws:list":
            await ctx.go(WORKSHOPS)
            return True
        if (number := payload_id(payload, "ws:cancel:")) is None:
            return False
        live = {
            b.id
            for b in await workshops.my_bookings(ctx.uow, ctx.person.id)
            if b.status != BookingStatus.CANCELLED
        }
        if number not in live:
            return False
        ctx.state.data["booking"] = number
        await ctx.go(CANCEL)
        return True


class CancelStep(ConfirmCancelStep):
    """Confirm a cancellation."""

    name = CANCEL
    prefix = "ws:cancel"
    key = "booking"
    back = MINE
    question = N_("Cancel this booking? Your seat goes to the next person waiting.")

    async def cancel(self, ctx: Context, record_id: int) -> None:
        """Cancel it; the place goes on."""
        await workshops.cancel_booking(ctx.uow, ctx.workshop_notify, ctx.person.id, record_id)


class DoorStep(Step):
    """Check in by typing the door code posted at the workshop, or one's own booking code."""

    name = DOOR

    async def prompt(self, ctx: Context) -> None:
        """Ask for either code, and say when check-in is open."""
        ctx.ask(
            ctx._("Type the door code posted at the workshop room, or your own booking code.")
            + "\n"
            + ctx._(CHECK_IN_RULE),
            [_back(ctx)],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Go back to the list."""
        if payload != "ws:list":
            return False
        await ctx.go(WORKSHOPS)
        return True

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check in with the code."""
        try:
            booking, changed = await workshops.check_in_at_door(ctx.uow, ctx.person.id, text)
        except NotFound:
            ctx.retry(
                ctx._(
                    "That code is not right. Type the door code at the room, or your booking code."
                )
            )
            return True
        except InvalidInput:
            ctx.note(ctx._(CHECK_IN_RULE))
            await ctx.go(WORKSHOPS)
            return True
        except ConflictError:
            ctx.note(
                ctx._("You have no seat at this workshop. Please ask the coordinator at the door.")
            )
            await ctx.go(WORKSHOPS)
            return True
        workshop = await workshops.get_workshop(ctx.uow, booking.workshop_id)
        ctx.note(
            ctx._("Welcome! You are checked in for “{topic}”.", topic=workshop.topic)
            if changed
            else ctx._("You are checked in already.")
        )
        await menu.open_menu(ctx)
        return True


class CommentStep(Step):
    """An optional comment after a rating."""

    name = COMMENT

    async def prompt(self, ctx: Context) -> None:
        """Invite a comment."""
        ctx.ask(
            ctx._("Thank you! Anything else you want to tell us? Type it, or tap Skip."),
            [Choice(ctx._("Skip"), "ws:skip")],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Skip the comment."""
        if payload != "ws:skip":
            return False
        ctx.state.data.pop("rated", None)
        await menu.open_menu(ctx)
        return True

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Store the comment."""
        try:
            await workshops.add_comment(
                ctx.uow, ctx.person.id, int(ctx.state.data.get("rated", 0)), text
            )
        except InvalidInput:
            ctx.retry(
                ctx._("Please keep it under {limit} characters.", limit=workshops.MAX_COMMENT)
            )
            return True
        except NotFound:
            return False
        ctx.state.data.pop("rated", None)
        ctx.note(ctx._("Thank you, we have read it."))
        await menu.open_menu(ctx)
        return True


async def global_press(ctx: Context, payload: str) -> bool:
    """Buttons that arrive in pushes, whatever step the person is at: offers and ratings."""
    if payload.startswith("wso:"):
        return await _answer_offer(ctx, payload)
    if payload.startswith("wsr:"):
        return await _rate(ctx, payload)
    return False


async def _answer_offer(ctx: Context, payload: str) -> bool:
    answer, _, text = payload.removeprefix("wso:").partition(":")
    if answer not in ("yes", "no") or (number := record_id(text)) is None:
        return False
    try:
        booking, _next = await workshops.answer_offer(
            ctx.uow, ctx.workshop_notify, ctx.person.id, number, accept=answer == "yes"
        )
    except NotFound:
        return False
    except ConflictError:
        ctx.note(ctx._("This offer has ended: it was answered already, or its time ran out."))
        await ctx.go(MINE)
        return True
    if booking.status == BookingStatus.CANCELLED:
        ctx.note(ctx._("Thank you for telling us. The seat goes to the next person."))
    else:
        workshop = await workshops.get_workshop(ctx.uow, booking.workshop_id)
        ctx.note(_booking_text(ctx, booking, workshop))
    await ctx.go(MINE)
    return True


async def _rate(ctx: Context, payload: str) -> bool:
    text, _, rating = payload.removeprefix("wsr:").partition(":")
    number = record_id(text)
    # The rating is checked by the service (1 to 5); a long number is not a rating either.
    if number is None or len(rating) > 3 or not rating.lstrip("-").isdecimal():
        return False
    try:
        fresh = await workshops.rate(ctx.uow, ctx.person.id, number, int(rating))
    except NotFound:
        return False
    except InvalidInput as problem:
        if str(problem) == "rating":
            ctx.say_brief(ctx._("Please tap a number from 1 to 5."))
            return True
        return False
    if not fresh:
        ctx.say_brief(ctx._("You have answered already. Thank you!"))
        return True
    ctx.state.data["rated"] = int(number)
    await ctx.go(COMMENT)
    return True


def steps() -> list[Step]:
    """Return the workshop steps for workers."""
    return [WorkshopsStep(), WorkshopStep(), MineStep(), CancelStep(), DoorStep(), CommentStep()]
