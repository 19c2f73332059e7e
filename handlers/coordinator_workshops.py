"""The coordinator's side of parent workshops: plan, see bookings, check in, cancel, export.

Every action is checked again by the services, so a stale button or a role taken away
mid-conversation changes nothing.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from ffs_bot import exports, spreadsheets
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import LANGUAGE_NAMES
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.services import staff, workshops
from ffs_bot.services.audit import record_event
from ffs_bot.services.factories import get_factory, get_factory_by_code
from ffs_bot.services.people import get_person
from ffs_bot.services.workshops import BookingStatus, Workshop, WorkshopChanges
from ffs_bot.workshop_notices import when
from handlers import answers, menu, place
from handlers.context import DEFAULT_TIMEZONE, Context
from handlers.payloads import payload_id, record_id
from handlers.place import PLACE_EN
from handlers.router import Step
from handlers.workshops import CHECK_IN_RULE

__all__ = ["STAFF_WORKSHOPS", "steps"]

STAFF_WORKSHOPS = "staff.ws"
ONE = "staff.ws.one"
BOOKINGS = "staff.ws.bookings"
CHECK_IN = "staff.ws.checkin"
CANCEL = "staff.ws.cancel"
PLAN = "staff.ws.plan"
EDIT = "staff.ws.edit"
SHOWN = 20
# Workshop buttons on the coordinator's list: the coming ones first, then the recent past.
LISTED = 8
# A coordinator's factories offered as buttons when a workshop is planned (codes still work).
FACTORY_BUTTONS = 6
PLAN_FIELDS = ("factory", "when", "topic", "language", "capacity", "place", "trainer")
_LANGUAGE_WORDS = {
    "zh": "zh_Hans",
    "中文": "zh_Hans",
    "chinese": "zh_Hans",
    "en": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
}


def _back(ctx: Context) -> Choice:
    return Choice(ctx._("Back to the workshop"), "sw:back")


async def _current(ctx: Context) -> Workshop | None:
    try:
        return await workshops.workshop_for_staff(
            ctx.uow, ctx.person.id, int(ctx.state.data.get("staff_workshop", 0))
        )
    except (NotFound, Forbidden):
        return None


async def _lost(ctx: Context) -> None:
    ctx.note(ctx._("That workshop is no longer yours to run."))
    await ctx.go(STAFF_WORKSHOPS)


def _label(ctx: Context, workshop: Workshop) -> str:
    return f"{ctx.t.weekday_date(workshop.starts_at, workshop.timezone)} {workshop.topic}"


class StaffWorkshopsStep(Step):
    """The workshops at the coordinator's factories, and a new one."""

    name = STAFF_WORKSHOPS

    async def prompt(self, ctx: Context) -> None:
        """List recent and upcoming workshops."""
        if not (await staff.staff_scope(ctx.uow, ctx.person.id)).is_staff:
            await menu.open_menu(ctx)
            return
        found = await workshops.workshops_for_staff(ctx.uow, ctx.person.id)
        coming, past = workshops.split_at_today(found)
        # Today's and the next ones first; the recent past (for attendance) as room allows.
        shown = [*coming, *reversed(past)][:LISTED]
        text = ctx._("Which workshop?") if found else ctx._("No workshops yet.")
        if (later := len(coming) - LISTED) > 0:
            text += "\n" + ctx.t.ngettext(
                "Soonest first. {n} more comes after these.",
                "Soonest first. {n} more come after these.",
                later,
            )
        ctx.say(
            text,
            [
                *(Choice(_label(ctx, w), f"sw:open:{w.id}") for w in shown),
                Choice(ctx._("Plan a workshop"), "sw:new"),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open a workshop, or plan one."""
        if payload == "sw:new":
            scope = await staff.staff_scope(ctx.uow, ctx.person.id)
            if not scope.is_staff:
                return False
            only = (
                next(iter(scope.factory_ids))
                if len(scope.factory_ids) == 1 and not scope.every_factory
                else 0
            )
            ctx.state.data["plan"] = {"factory": only} if only else {}
            await ctx.go(PLAN)
            return True
        if (number := payload_id(payload, "sw:open:")) is None:
            return False
        ctx.state.data["staff_workshop"] = number
        if await _current(ctx) is None:
            return False
        await ctx.go(ONE)
        return True


class WorkshopStep(Step):
    """One workshop: its figures and what can be done with it."""

    name = ONE

    async def prompt(self, ctx: Context) -> None:
        """Show the workshop and its actions."""
        workshop = await _current(ctx)
        if workshop is None:
            await _lost(ctx)
            return
        booked = await workshops.bookings_of(ctx.uow, ctx.person.id, workshop.id)
        lines = [
            workshop.topic,
            when(ctx.t, workshop.starts_at, workshop.ends_at, workshop.timezone),
            ctx._(
                "Seats {taken} of {capacity} held · waiting: {waiting} · checked in: {arrived}",
                taken=workshop.seats_taken,
                capacity=workshop.capacity,
                waiting=sum(1 for b in booked if b.status == BookingStatus.WAITLISTED),
                arrived=sum(1 for b in booked if b.checked_in_at is not None),
            ),
            ctx._("Door code: {code}", code=workshop.door_code),
        ]
        if workshop.place:
            lines.append(ctx._("Place: {place}", place=workshop.place.pick(ctx.language)))
        if workshop.cancelled:
            lines.append(ctx._("This workshop is cancelled."))
        buttons = [
            Choice(ctx._("Bookings and waiting list"), "sw:bookings"),
            Choice(ctx._("Check in by booking code"), "sw:checkin"),
            Choice(ctx._("Attendance (Excel)"), "sw:x:xlsx"),
            Choice(ctx._("Attendance (CSV)"), "sw:x:csv"),
        ]
        if not workshop.cancelled:
            buttons += [
                Choice(ctx._("Edit"), "sw:edit"),
                Choice(ctx._("Cancel this workshop"), "sw:cancel"),
            ]
        ctx.say("\n".join(lines), [*buttons, Choice(ctx._("All workshops"), "sw:list")])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Go where the button says, or send the attendance file."""
        targets = {
            "sw:bookings": BOOKINGS,
            "sw:checkin": CHECK_IN,
            "sw:cancel": CANCEL,
            "sw:edit": EDIT,
            "sw:list": STAFF_WORKSHOPS,
        }
        if payload in targets:
            await ctx.go(targets[payload])
            return True
        workshop = await _current(ctx)
        if payload not in ("sw:x:xlsx", "sw:x:csv") or workshop is None:
            return False
        table = await exports.workshop_attendance_table(
            ctx.uow, actor_person_id=ctx.person.id, workshop_id=workshop.id, translator=ctx.t
        )
        await record_event(
            ctx.uow,
            "export.chat",
            actor_person_id=ctx.person.id,
            subject_type="workshop_attendance",
            subject_id=workshop.id,
            rows=len(table.rows),
        )
        made = spreadsheets.export_file(
            table, "csv" if payload.endswith("csv") else "xlsx", f"workshop-{workshop.id}"
        )
        ctx.replies.append(
            Reply(
                ctx.t.ngettext("{n} row", "{n} rows", len(table.rows)),
                attachment=Attachment(made.filename, made.content, made.mime),
            )
        )
        await ctx.reprompt()
        return True


def _status(ctx: Context, status: str) -> str:
    return {
        BookingStatus.CONFIRMED: ctx._("booked"),
        BookingStatus.WAITLISTED: ctx._("waiting"),
        BookingStatus.OFFERED: ctx._("offered a place"),
    }.get(status, status)


class BookingsStep(Step):
    """Who booked, who is waiting, who came."""

    name = BOOKINGS

    async def prompt(self, ctx: Context) -> None:
        """List the bookings, seats first."""
        workshop = await _current(ctx)
        if workshop is None:
            await _lost(ctx)
            return
        booked = await workshops.bookings_of(ctx.uow, ctx.person.id, workshop.id)
        if not booked:
            ctx.say(ctx._("No bookings yet."), [_back(ctx)])
            return
        lines = []
        for n, booking in enumerate(booked[:SHOWN], 1):
            line = f"{n}. {booking.person_name} · {booking.code} · {_status(ctx, booking.status)}"
            if booking.checked_in_at is not None:
                line += " · " + ctx._("checked in")
            lines.append(line)
        if len(booked) > SHOWN:
            lines.append(
                ctx._("… and {n} more: export the list to see them all.", n=len(booked) - SHOWN)
            )
        ctx.say("\n".join(lines), [_back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Back to the workshop."""
        if payload != "sw:back":
            return False
        await ctx.go(ONE)
        return True


class CheckInStep(Step):
    """Check people in by the code on their booking, one after another."""

    name = CHECK_IN

    async def prompt(self, ctx: Context) -> None:
        """Ask for a code."""
        ctx.ask(
            ctx._("Type the parent's booking code, for example K7PM.")
            + "\n"
            + ctx._(CHECK_IN_RULE),
            [_back(ctx)],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Back to the workshop."""
        if payload != "sw:back":
            return False
        await ctx.go(ONE)
        return True

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check in the booking with that code."""
        workshop = await _current(ctx)
        if workshop is None:
            await _lost(ctx)
            return True
        try:
            booking, changed = await workshops.check_in_by_code(
                ctx.uow, ctx.person.id, workshop.id, text
            )
        except NotFound:
            ctx.retry(
                ctx._("No booking has that booking code. Please check it and type it again.")
            )
            return True
        except InvalidInput as problem:
            ctx.retry(
                ctx._(CHECK_IN_RULE)
                if str(problem) == "not_now"
                else ctx._("That booking code is for another workshop.")
            )
            return True
        except ConflictError:
            ctx.retry(ctx._("That person has no seat: they are waiting or cancelled."))
            return True
        else:
            if changed:
                name = (await get_person(ctx.uow, booking.person_id)).display_name or ""
                ctx.note(ctx._("Checked in: {name}.", name=name))
            else:
                ctx.note(ctx._("Already checked in."))
        await ctx.reprompt()
        return True


class CancelStep(Step):
    """Confirm cancelling a workshop; everyone booked or waiting is told."""

    name = CANCEL

    async def prompt(self, ctx: Context) -> None:
        """Ask to confirm."""
        ctx.say(
            ctx._("Cancel this workshop? Everyone booked or waiting will be told."),
            [
                Choice(ctx._("Yes, cancel the workshop"), "sw:cancel:yes"),
                Choice(ctx._("No, keep it"), "sw:back"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Cancel, or keep."""
        if payload == "sw:back":
            await ctx.go(ONE)
            return True
        workshop = await _current(ctx)
        if payload != "sw:cancel:yes" or workshop is None:
            return False
        try:
            told = await workshops.cancel_workshop(
                ctx.uow, ctx.workshop_notify, ctx.person.id, workshop.id
            )
        except (ConflictError, Forbidden, NotFound):
            return False
        ctx.note(
            ctx.t.ngettext(
                "Cancelled. {n} person was told.", "Cancelled. {n} people were told.", len(told)
            )
        )
        await ctx.go(ONE)
        return True


class EditStep(Step):
    """Which part of a planned workshop to change."""

    name = EDIT

    async def prompt(self, ctx: Context) -> None:
        """Offer the fields."""
        names = {
            "when": ctx._("Day and hours"),
            "topic": ctx._("Topic"),
            "language": ctx._("Language"),
            "capacity": ctx._("Places"),
            "place": ctx._("Place"),
            "trainer": ctx._("Trainer"),
        }
        ctx.say(
            ctx._("What do you want to change?"),
            [*(Choice(label, f"sw:field:{f}") for f, label in names.items()), _back(ctx)],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask for the new value."""
        if payload == "sw:back":
            await ctx.go(ONE)
            return True
        field = payload.removeprefix("sw:field:")
        workshop = await _current(ctx)
        if not payload.startswith("sw:field:") or field not in PLAN_FIELDS or workshop is None:
            return False
        ctx.state.data["plan"] = {"edit": field, "factory": workshop.factory_id}
        await ctx.go(PLAN)
        return True


def _question(ctx: Context, field: str) -> str:
    return {
        "factory": ctx._("Which factory? Type its code, for example SZ01."),
        "when": ctx._("Which day and hours? For example 7/14 9:00-12:00."),
        "topic": ctx._("What is the topic? For example: Keeping close by video call."),
        "language": ctx._("In which language?"),
        "capacity": ctx._("How many places? Type a number, for example 30."),
        "place": ctx._("Where? For example: Training room, canteen 2nd floor. Send - for none."),
        "trainer": ctx._("Who gives it? Type the trainer's name, or - for none."),
        PLACE_EN: place.english_question(ctx),
    }[field]


def _problem(ctx: Context, field: str) -> str:
    return {
        "factory": ctx._("That is not one of your factories' codes."),
        "when": ctx._(
            "Please type a day in the future and the hours, at most 6 hours, "
            "for example 7/14 9:00-12:00."
        ),
        "topic": ctx._(
            "Please type a topic of up to {limit} characters.", limit=workshops.MAX_TOPIC
        ),
        "language": ctx._("Please tap a language."),
        "capacity": ctx._("Please type a number from 1 to {most}.", most=workshops.MAX_CAPACITY),
        "place": ctx._("Please keep it under {limit} characters.", limit=200),
        "trainer": ctx._("Please keep it under {limit} characters.", limit=100),
        PLACE_EN: ctx._("Please keep it under {limit} characters.", limit=200),
    }[field]


async def _answers(ctx: Context, field: str) -> list[Choice]:
    """Buttons for a question with few answers: the languages, the person's factories."""
    if field == "language":
        return [Choice(name, f"sw:plan:language:{code}") for code, name in LANGUAGE_NAMES.items()]
    if field != "factory":
        return []
    scope = await staff.staff_scope(ctx.uow, ctx.person.id)
    buttons = []
    for factory_id in sorted(scope.factory_ids)[:FACTORY_BUTTONS]:
        if factory := await get_factory(ctx.uow, factory_id):
            buttons.append(Choice(factory.name(ctx.language), f"sw:plan:factory:{factory_id}"))
    return buttons


def _next_field(plan: dict[str, Any]) -> str | None:
    # Changing one field of a planned workshop, or planning one.
    fields = (str(plan["edit"]),) if "edit" in plan else PLAN_FIELDS
    return next((field for field in place.with_english(fields) if field not in plan), None)


class PlanStep(Step):
    """Typed answers for a new workshop, one question at a time."""

    name = PLAN

    async def prompt(self, ctx: Context) -> None:
        """Ask the next question."""
        plan = ctx.state.data.get("plan")
        field = _next_field(plan) if isinstance(plan, dict) else None
        if field is None:
            await ctx.go(STAFF_WORKSHOPS)
            return
        question = _question(ctx, field)
        if buttons := await _answers(ctx, field):
            # Tapped or typed as a number, like any list of choices.
            ctx.say(question, [*buttons, Choice(ctx._("Cancel"), "cancel")])
        else:
            skip = [place.skip(ctx, "sw:plan:place_en:")] if field == PLACE_EN else []
            ctx.ask(question, [*skip, Choice(ctx._("Cancel"), "cancel")])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Take a tapped answer: a factory or a language."""
        plan = ctx.state.data.get("plan")
        field = _next_field(plan) if isinstance(plan, dict) else None
        kind, _, value = payload.removeprefix("sw:plan:").partition(":")
        if field is None or not payload.startswith("sw:plan:") or kind != field:
            return False
        if field == "language" and value in LANGUAGE_NAMES:
            return await self.on_text(ctx, LANGUAGE_NAMES[value])
        if field == "factory" and (factory := await get_factory(ctx.uow, record_id(value) or 0)):
            return await self.on_text(ctx, factory.code)
        if field == PLACE_EN:  # skipped
            return await self.on_text(ctx, "-")
        return False

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the answer; with the last one, plan the workshop."""
        plan = ctx.state.data.get("plan")
        field = _next_field(plan) if isinstance(plan, dict) else None
        if field is None or not isinstance(plan, dict):
            return False
        try:
            if field == "place":
                plan.update(place.read_place(text))
            elif field == PLACE_EN:
                plan[field] = place.read_english(text)
            else:
                plan[field] = await self._read(ctx, field, text, plan)
        except InvalidInput:
            ctx.retry(_problem(ctx, field))
            return True
        if _next_field(plan) is not None:
            await ctx.reprompt()
            return True
        if "edit" in plan:
            return await self._change(ctx, plan, str(plan["edit"]))
        factory = await get_factory(ctx.uow, int(plan["factory"]))
        if factory is None:
            return False
        try:
            made = await workshops.create_workshop(
                ctx.uow,
                factory_code=factory.code,
                starts_at=datetime.fromisoformat(plan["when"][0]),
                ends_at=datetime.fromisoformat(plan["when"][1]),
                topic=plan["topic"],
                language=plan["language"],
                capacity=int(plan["capacity"]),
                place=place.both(plan),
                trainer=plan["trainer"],
                actor_person_id=ctx.person.id,
                rules=ctx.workshop_notify.rules,
            )
        except InvalidInput as problem:
            bad = "when" if str(problem) == "times" else str(problem)
            plan.pop(bad if bad in PLAN_FIELDS else "when", None)
            if bad == "place":
                plan.pop(PLACE_EN, None)
            ctx.note(_problem(ctx, bad if bad in PLAN_FIELDS else "when"))
            await ctx.reprompt()
            return True
        except (Forbidden, NotFound):
            ctx.state.data.pop("plan", None)
            await ctx.go(STAFF_WORKSHOPS)
            return True
        ctx.state.data.pop("plan", None)
        ctx.state.data["staff_workshop"] = made.id
        # The day typed had no year: say which one it was read as, with its weekday.
        ctx.note(
            ctx._(
                "Planned for {when}. Workers at the factory can book it now.",
                when=when(ctx.t, made.starts_at, made.ends_at, made.timezone, with_year=True),
            )
        )
        await ctx.go(ONE)
        return True

    async def _change(self, ctx: Context, plan: dict[str, Any], field: str) -> bool:
        value = plan[field]
        changes = WorkshopChanges(
            starts_at=datetime.fromisoformat(value[0]) if field == "when" else None,
            ends_at=datetime.fromisoformat(value[1]) if field == "when" else None,
            topic=value if field == "topic" else None,
            language=value if field == "language" else None,
            capacity=int(value) if field == "capacity" else None,
            place=place.both(plan) if field == "place" else None,
            trainer=value if field == "trainer" else None,
        )
        try:
            changed = await workshops.update_workshop(
                ctx.uow,
                ctx.workshop_notify,
                ctx.person.id,
                int(ctx.state.data.get("staff_workshop", 0)),
                changes,
            )
        except InvalidInput:
            plan.pop(field, None)
            plan.pop(PLACE_EN, None)
            ctx.retry(_problem(ctx, field))
            return True
        except ConflictError:
            ctx.note(ctx._("This workshop has started or was cancelled: it cannot be changed."))
        except (Forbidden, NotFound):
            ctx.state.data.pop("plan", None)
            await _lost(ctx)
            return True
        else:
            ctx.note(
                ctx._(
                    "Saved: {when}.",
                    when=when(
                        ctx.t,
                        changed.starts_at,
                        changed.ends_at,
                        changed.timezone,
                        with_year=True,
                    ),
                )
                if field == "when"
                else ctx._("Saved.")
            )
        ctx.state.data.pop("plan", None)
        await ctx.go(ONE)
        return True

    async def _read(self, ctx: Context, field: str, text: str, plan: dict[str, Any]) -> Any:
        cleaned = " ".join(unicodedata.normalize("NFKC", text).split())
        none = cleaned in ("-", "—")
        if field == "factory":
            factory = await get_factory_by_code(ctx.uow, cleaned)
            scope = await staff.staff_scope(ctx.uow, ctx.person.id)
            if factory is None or not scope.covers(factory.id):
                raise InvalidInput("factory")
            return factory.id
        if field == "when":
            factory = await get_factory(ctx.uow, int(plan.get("factory", 0)))
            zone = factory.timezone if factory else DEFAULT_TIMEZONE
            try:
                start, end = answers.parse_day_and_hours(text, datetime.now(UTC), zone)
            except InvalidInput:
                raise InvalidInput("when") from None
            if (end - start) > workshops.MAX_LENGTH:
                raise InvalidInput("when")
            return [start.isoformat(), end.isoformat()]
        if field == "language":
            language = _LANGUAGE_WORDS.get(cleaned.lower())
            if language is None:
                raise InvalidInput("language")
            return language
        if field == "capacity":
            try:
                return answers.parse_count(text, workshops.MAX_CAPACITY)
            except InvalidInput:
                raise InvalidInput("capacity") from None
        # Typed words are kept as typed, Chinese punctuation (，：) included.
        words = " ".join(text.split())
        limit = {"topic": workshops.MAX_TOPIC, "trainer": 100}[field]
        if (field == "topic" and not words) or len(words) > limit:
            raise InvalidInput(field)
        return "" if none else words


def steps() -> list[Step]:
    """Return the coordinator's workshop steps."""
    return [
        StaffWorkshopsStep(),
        WorkshopStep(),
        BookingsStep(),
        CheckInStep(),
        CancelStep(),
        PlanStep(),
        EditStep(),
    ]
