"""The coordinator's side of the Family-Friendly Space: seasons, decisions, roster, check-in.

Only staff see the way in; every action is checked again by the services, so a stale button
or a role taken away mid-conversation changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ffs_bot import exports
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.model import age_in_months
from ffs_bot.services import season_admin, seasons, staff
from ffs_bot.services.audit import record_event
from ffs_bot.services.factories import get_factory, get_factory_by_code
from ffs_bot.services.season_admin import RosterEntry, SeasonChanges, StaffSeason
from ffs_bot.services.seasons import RegistrationStatus
from handlers import menu
from handlers.children import today as programme_today
from handlers.context import Context
from handlers.router import Step

__all__ = ["STAFF", "steps"]

STAFF = menu.STAFF
STAFF_WORKSHOPS = "staff.ws"  # handlers.coordinator_workshops
TIP_FIGURES = "tips.figures"  # handlers.tips
BROADCASTS = "bc"  # handlers.broadcasts
GRANT_ROLE = "roles.account"  # handlers.roles, for programme admins
SEASON = "staff.season"
REGISTRATIONS = "staff.regs"
DECLINE = "staff.decline"
WAITLIST = "staff.waitlist"
ROSTER = "staff.roster"
EDIT = "staff.edit"
FORM = "staff.form"
EXPORT = "staff.export"
SHOWN = 10  # registrations or children per message: small phones

_AGES = re.compile(r"(\d{1,2})\s*[-~–至到]\s*(\d{1,2})")
_DAY = re.compile(r"(\d{1,2})\s*[/.月-]\s*(\d{1,2})\s*[日号]?")
# The fields a new season asks for, in order; editing asks for one of them.
NEW_SEASON_FIELDS = ("dates", "ages", "capacity", "deadline", "place", "sponsors")
EDIT_FIELDS = ("dates", "ages", "capacity", "deadline", "place", "sponsors")
MAX_CAPACITY = 500


def _local_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def _season_label(ctx: Context, found: StaffSeason) -> str:
    return f"{found.factory_code} {ctx.t.date_range(found.season.starts_on, found.season.ends_on)}"


async def _current(ctx: Context) -> StaffSeason | None:
    """The season this conversation is about, if the person still runs it."""
    try:
        return await season_admin.season_for_staff(
            ctx.uow, ctx.person.id, int(ctx.state.data.get("staff_season", 0))
        )
    except (NotFound, Forbidden):
        return None


async def _lost(ctx: Context) -> None:
    ctx.note(ctx._("That season is no longer yours to run."))
    await ctx.go(STAFF)


def _back(ctx: Context) -> Choice:
    return Choice(ctx._("Back to the season"), "st:back")


class StaffStep(Step):
    """The seasons a coordinator runs, and a new one."""

    name = STAFF

    async def prompt(self, ctx: Context) -> None:
        """List the seasons in the person's factories."""
        scope = await staff.staff_scope(ctx.uow, ctx.person.id)
        if not scope.is_staff:
            await menu.open_menu(ctx)
            return
        found = await season_admin.seasons_for_staff(ctx.uow, ctx.person.id)
        text = (
            ctx._("Which season?")
            if found
            else ctx._("No Family-Friendly Space season yet at your factories.")
        )
        admin = [Choice(ctx._("Give a staff role"), GRANT_ROLE)] if scope.every_factory else []
        ctx.say(
            text,
            [
                *(Choice(_season_label(ctx, s), f"st:season:{s.season.id}") for s in found[:8]),
                *admin,
                Choice(ctx._("Open a new season"), "st:new"),
                Choice(ctx._("Parent workshops"), STAFF_WORKSHOPS),
                Choice(ctx._("Send a message to many"), BROADCASTS),
                Choice(ctx._("Tip figures"), TIP_FIGURES),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open a season, start a new one, or go to the workshops."""
        if payload in (STAFF_WORKSHOPS, TIP_FIGURES, BROADCASTS, GRANT_ROLE):
            await ctx.go(payload)
            return True
        if payload == "st:new":
            scope = await staff.staff_scope(ctx.uow, ctx.person.id)
            if not scope.is_staff:
                return False
            # One factory: no need to ask which; an admin or a multi-factory coordinator types it.
            only = (
                next(iter(scope.factory_ids))
                if len(scope.factory_ids) == 1 and not scope.every_factory
                else 0
            )
            ctx.state.data["form"] = {"mode": "new", "factory_id": only, "values": {}}
            await ctx.go(FORM)
            return True
        number = payload.removeprefix("st:season:")
        if not payload.startswith("st:season:") or not number.isdigit():
            return False
        ctx.state.data["staff_season"] = int(number)
        if await _current(ctx) is None:
            return False
        await ctx.go(SEASON)
        return True


def _season_text(ctx: Context, found: StaffSeason, counts: dict[RegistrationStatus, int]) -> str:
    season = found.season
    lines = [
        ctx._(
            "{factory}: {dates}",
            factory=found.factory_name_en if ctx.language == "en" else found.factory_name_zh,
            dates=ctx.t.date_range(season.starts_on, season.ends_on),
        ),
        ctx._(
            "Ages {youngest} to {oldest} · places {taken} of {capacity} held",
            youngest=season.min_age_years,
            oldest=season.max_age_years,
            taken=season.seats_taken,
            capacity=season.capacity,
        ),
        ctx._(
            "To confirm: {requested} · offered a place: {offered} · waiting: {waiting}",
            requested=counts.get(RegistrationStatus.REQUESTED, 0),
            offered=counts.get(RegistrationStatus.OFFERED, 0),
            waiting=counts.get(RegistrationStatus.WAITLISTED, 0),
        ),
        (
            ctx._("Registration open until {day}", day=ctx.t.day(season.registration_deadline))
            if season.registration_open
            else ctx._("Registration closed")
        ),
        (
            ctx._("Places are confirmed at once")
            if season.auto_confirm
            else ctx._("You confirm each place")
        ),
        (
            ctx._("Paid by: {sponsors}", sponsors=", ".join(found.sponsors))
            if found.sponsors
            else ctx._("Paid by the factory")
        ),
    ]
    if found.place:
        lines.append(ctx._("Place: {place}", place=found.place))
    return "\n".join(lines)


class SeasonStep(Step):
    """One season: its figures and what can be done with it."""

    name = SEASON

    async def prompt(self, ctx: Context) -> None:
        """Show the season and its actions."""
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return
        entries = await season_admin.registrations(ctx.uow, ctx.person.id, found.season.id)
        counts: dict[RegistrationStatus, int] = {}
        for entry in entries:
            counts[entry.status] = counts.get(entry.status, 0) + 1
        toggle = (
            Choice(ctx._("Close registration"), "st:close")
            if found.season.registration_open
            else Choice(ctx._("Reopen registration"), "st:open")
        )
        ctx.say(
            _season_text(ctx, found, counts),
            [
                Choice(
                    ctx._(
                        "Registrations ({n} to confirm)",
                        n=counts.get(RegistrationStatus.REQUESTED, 0),
                    ),
                    "st:regs",
                ),
                Choice(ctx._("Waiting list"), "st:waitlist"),
                Choice(ctx._("Today's roster"), "st:roster"),
                Choice(ctx._("Edit"), "st:edit"),
                Choice(ctx._("Export to a file"), "st:export"),
                toggle,
                Choice(ctx._("All seasons"), STAFF),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Go where the button says."""
        targets = {
            "st:regs": REGISTRATIONS,
            "st:waitlist": WAITLIST,
            "st:roster": ROSTER,
            "st:edit": EDIT,
            "st:export": EXPORT,
            STAFF: STAFF,
        }
        if payload in targets:
            await ctx.go(targets[payload])
            return True
        if payload not in ("st:close", "st:open"):
            return False
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return True
        opening = payload == "st:open"
        if opening == found.season.registration_open:
            return False  # the same button pressed twice: nothing to do
        await season_admin.update_season(
            ctx.uow,
            ctx.notify,
            ctx.person.id,
            found.season.id,
            SeasonChanges(registration_open=opening),
        )
        ctx.note(
            ctx._("Registration is open again.") if opening else ctx._("Registration is closed.")
        )
        await ctx.reprompt()
        return True


def _age(entry: RosterEntry, found: StaffSeason) -> int:
    start = found.season.starts_on
    return age_in_months(entry.birth_year, entry.birth_month, start.year, start.month) // 12


def _status_label(ctx: Context, status: RegistrationStatus) -> str:
    labels = {
        RegistrationStatus.REQUESTED: ctx._("to confirm"),
        RegistrationStatus.CONFIRMED: ctx._("confirmed"),
        RegistrationStatus.WAITLISTED: ctx._("waiting"),
        RegistrationStatus.OFFERED: ctx._("offered a place"),
        RegistrationStatus.CANCELLED: ctx._("cancelled"),
        RegistrationStatus.DECLINED: ctx._("declined"),
    }
    return labels[status]


def _entry_line(ctx: Context, n: int, entry: RosterEntry, found: StaffSeason) -> str:
    line = ctx._(
        "{n}. {name}, {age} · {days} · {status}",
        n=n,
        name=entry.child_name,
        age=ctx.t.ngettext("{n} year", "{n} years", _age(entry, found)),
        days=ctx.t.date_range(entry.starts_on, entry.ends_on),
        status=_status_label(ctx, entry.status),
    )
    if entry.guardians:
        line += "\n   " + ctx._("Family: {names}", names=", ".join(entry.guardians))
    if entry.health_notes:
        line += "\n   " + ctx._("Health: {notes}", notes=entry.health_notes)
    return line


class RegistrationsStep(Step):
    """Registrations, those to confirm first, with confirm and decline buttons."""

    name = REGISTRATIONS

    async def prompt(self, ctx: Context) -> None:
        """List the live registrations."""
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return
        entries = await season_admin.registrations(
            ctx.uow,
            ctx.person.id,
            found.season.id,
            (RegistrationStatus.REQUESTED, RegistrationStatus.CONFIRMED),
        )
        if not entries:
            ctx.say(ctx._("No registrations yet."), [_back(ctx)])
            return
        shown = entries[:SHOWN]
        lines = [_entry_line(ctx, n, e, found) for n, e in enumerate(shown, 1)]
        if len(entries) > SHOWN:
            lines.append(
                ctx._("… and {n} more: export the list to see them all.", n=len(entries) - SHOWN)
            )
        buttons: list[Choice] = []
        for n, entry in enumerate(shown, 1):
            if entry.status is RegistrationStatus.REQUESTED:
                buttons.append(Choice(ctx._("Confirm {n}", n=n), f"st:ok:{entry.registration_id}"))
            buttons.append(Choice(ctx._("Decline {n}", n=n), f"st:no:{entry.registration_id}"))
        ctx.say("\n".join(lines), [*buttons, _back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Confirm at once, or ask why before declining."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        action, _, number = payload.removeprefix("st:").partition(":")
        if action not in ("ok", "no") or not number.isdigit() or not payload.startswith("st:"):
            return False
        if action == "no":
            ctx.state.data["decline"] = int(number)
            await ctx.go(DECLINE)
            return True
        try:
            if not await season_admin.confirm_registration(
                ctx.uow, ctx.notify, ctx.person.id, int(number)
            ):
                return False  # pressed twice
        except (NotFound, Forbidden, ConflictError):
            return False
        ctx.note(ctx._("Confirmed. The family has been told."))
        await ctx.reprompt()
        return True


class DeclineStep(Step):
    """Why a registration is declined, in words the family will read."""

    name = DECLINE

    async def prompt(self, ctx: Context) -> None:
        """Ask for the reason."""
        ctx.say(
            ctx._("Type the reason the family will see, for example: the space is full."),
            [Choice(ctx._("Cancel"), "cancel")],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Decline with the typed reason."""
        number = int(ctx.state.data.get("decline", 0))
        try:
            await season_admin.decline_registration(
                ctx.uow, ctx.notify, ctx.person.id, number, text
            )
        except InvalidInput:
            ctx.note(
                ctx._(
                    "Please keep the reason under {limit} characters.",
                    limit=season_admin.MAX_REASON,
                )
            )
            await ctx.reprompt()
            return True
        except ConflictError:
            ctx.note(ctx._("That registration has ended already."))
        except (NotFound, Forbidden):
            await _lost(ctx)
            return True
        else:
            ctx.note(ctx._("Declined. The family has been told why."))
        ctx.state.data.pop("decline", None)
        await ctx.go(REGISTRATIONS)
        return True


class WaitlistStep(Step):
    """The queue, in order, with who holds an offer."""

    name = WAITLIST

    async def prompt(self, ctx: Context) -> None:
        """List who is waiting."""
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return
        entries = await season_admin.registrations(
            ctx.uow,
            ctx.person.id,
            found.season.id,
            (RegistrationStatus.OFFERED, RegistrationStatus.WAITLISTED),
        )
        if not entries:
            ctx.say(ctx._("Nobody is waiting."), [_back(ctx)])
            return
        lines = []
        for n, entry in enumerate(entries[:SHOWN], 1):
            line = _entry_line(ctx, n, entry, found)
            if entry.offer_expires_at is not None:
                line += "\n   " + ctx._(
                    "Offer open until {time}",
                    time=ctx.t.datetime(entry.offer_expires_at, found.timezone, "short"),
                )
            lines.append(line)
        if len(entries) > SHOWN:
            lines.append(
                ctx._("… and {n} more: export the list to see them all.", n=len(entries) - SHOWN)
            )
        buttons = [
            Choice(ctx._("Decline {n}", n=n), f"st:no:{entry.registration_id}")
            for n, entry in enumerate(entries[:SHOWN], 1)
        ]
        ctx.say("\n".join(lines), [*buttons, _back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Decline someone waiting, or go back."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        number = payload.removeprefix("st:no:")
        if not payload.startswith("st:no:") or not number.isdigit():
            return False
        ctx.state.data["decline"] = int(number)
        await ctx.go(DECLINE)
        return True


class RosterStep(Step):
    """Today's children, checked in and out with one tap each."""

    name = ROSTER

    async def prompt(self, ctx: Context) -> None:
        """List today's children and their times."""
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return
        today = _local_today(found.timezone)
        entries = await season_admin.roster(ctx.uow, ctx.person.id, found.season.id, today)
        if not entries:
            ctx.say(ctx._("No child has a place on {day}.", day=ctx.t.day(today)), [_back(ctx)])
            return
        arrived = sum(1 for e in entries if e.attendance is not None)
        lines = [
            ctx._(
                "{day}: {arrived} of {total} checked in",
                day=ctx.t.day(today),
                arrived=arrived,
                total=len(entries),
            )
        ]
        buttons: list[Choice] = []
        for n, entry in enumerate(entries[: SHOWN * 2], 1):
            times = ""
            seen = entry.attendance
            if seen is not None:
                times = ctx._("in {time}", time=_clock(seen.checked_in_at, found.timezone))
                if seen.checked_out_at is not None:
                    times += ", " + ctx._(
                        "out {time}", time=_clock(seen.checked_out_at, found.timezone)
                    )
            line = f"{n}. {entry.child_name}" + (f" · {times}" if times else "")
            if entry.health_notes:
                line += "\n   " + ctx._("Health: {notes}", notes=entry.health_notes)
            lines.append(line)
            if seen is None:
                buttons.append(
                    Choice(
                        ctx._("In: {name}", name=entry.child_name),
                        f"st:in:{entry.registration_id}",
                    )
                )
            elif seen.checked_out_at is None:
                buttons.append(
                    Choice(
                        ctx._("Out: {name}", name=entry.child_name),
                        f"st:out:{entry.registration_id}",
                    )
                )
        ctx.say("\n".join(lines), [*buttons, _back(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Check a child in or out."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        action, _, number = payload.removeprefix("st:").partition(":")
        found = await _current(ctx)
        if action not in ("in", "out") or not number.isdigit() or found is None:
            return False
        today = _local_today(found.timezone)
        act = season_admin.check_in if action == "in" else season_admin.check_out
        try:
            _attendance, changed = await act(ctx.uow, ctx.person.id, int(number), today)
        except (NotFound, Forbidden, ConflictError, InvalidInput):
            return False
        if not changed:
            return False  # pressed twice
        await ctx.reprompt()
        return True


def _clock(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


class EditStep(Step):
    """Which part of the season to change."""

    name = EDIT

    async def prompt(self, ctx: Context) -> None:
        """Offer the fields."""
        found = await _current(ctx)
        if found is None:
            await _lost(ctx)
            return
        confirm_label = (
            ctx._("Let me confirm each place")
            if found.season.auto_confirm
            else ctx._("Confirm places at once")
        )
        ctx.say(
            ctx._("What do you want to change?"),
            [
                *(Choice(_field_name(ctx, f), f"st:field:{f}") for f in EDIT_FIELDS),
                Choice(confirm_label, "st:autoconfirm"),
                _back(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask for the new value, or switch confirming."""
        found = await _current(ctx)
        if found is None:
            return False
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        if payload == "st:autoconfirm":
            await season_admin.update_season(
                ctx.uow,
                ctx.notify,
                ctx.person.id,
                found.season.id,
                SeasonChanges(auto_confirm=not found.season.auto_confirm),
            )
            ctx.note(ctx._("Saved."))
            await ctx.go(SEASON)
            return True
        field = payload.removeprefix("st:field:")
        if not payload.startswith("st:field:") or field not in EDIT_FIELDS:
            return False
        ctx.state.data["form"] = {"mode": "edit", "field": field, "values": {}}
        await ctx.go(FORM)
        return True


def _field_name(ctx: Context, field: str) -> str:
    names = {
        "dates": ctx._("Dates"),
        "ages": ctx._("Ages"),
        "capacity": ctx._("Places"),
        "deadline": ctx._("Registration deadline"),
        "place": ctx._("How to get there"),
        "sponsors": ctx._("Who pays"),
    }
    return names[field]


def _question(ctx: Context, field: str) -> str:
    questions = {
        "factory": ctx._("Which factory? Type its code, for example SZ01."),
        "dates": ctx._("Type the first and last day, for example 7/5-8/20."),
        "ages": ctx._("Type the youngest and oldest age, for example 3-12."),
        "capacity": ctx._("How many places? Type a number, for example 30."),
        "deadline": ctx._("Last day to register? For example 6/30."),
        "place": ctx._(
            "How do families find the room? For example: Building 3, 2nd floor, next to the "
            "canteen. Send - for none."
        ),
        "sponsors": ctx._(
            "Who pays? Type the sponsors' names separated by commas, or - if the factory pays."
        ),
    }
    return questions[field]


def _ask_next(form: dict[str, object]) -> str | None:
    if form.get("mode") == "edit":
        values = form.get("values")
        assert isinstance(values, dict)
        field = str(form["field"])
        return None if field in values else field
    if not form.get("factory_id"):
        return "factory"
    values = form.get("values")
    assert isinstance(values, dict)
    return next((f for f in NEW_SEASON_FIELDS if f not in values), None)


def _parse(field: str, text: str, today: date, start: date | None, end: date | None) -> object:
    """Read a typed value; raise InvalidInput with the field's name when it cannot be."""
    text = unicodedata.normalize("NFKC", text).strip()
    if field == "dates":
        first, last = seasons.parse_date_range(text, today.year)
        if last < today:
            first, last = first.replace(year=first.year + 1), last.replace(year=last.year + 1)
        if last < first:
            raise InvalidInput("dates")
        return [first.isoformat(), last.isoformat()]
    if field == "ages":
        match = _AGES.fullmatch(text)
        if not match:
            raise InvalidInput("ages")
        youngest, oldest = int(match[1]), int(match[2])
        if not 0 <= youngest <= oldest <= seasons.MAX_CHILD_AGE:
            raise InvalidInput("ages")
        return [youngest, oldest]
    if field == "capacity":
        if not text.isdigit() or not 1 <= int(text) <= MAX_CAPACITY:
            raise InvalidInput("capacity")
        return int(text)
    if field == "deadline":
        match = _DAY.fullmatch(text)
        if not match:
            raise InvalidInput("deadline")
        try:
            deadline = date((start or today).year, int(match[1]), int(match[2]))
        except ValueError:
            raise InvalidInput("deadline") from None
        if end is not None and deadline > end:
            raise InvalidInput("deadline")
        return deadline.isoformat()
    if field == "place":
        return "" if text in ("-", "—") else season_admin.clean_place(text)
    # sponsors
    if text in ("-", "—"):
        return []
    names = [" ".join(name.split()) for name in re.split(r"[,，、;；]", text)]
    names = [name for name in names if name]
    if not names or any(len(name) > season_admin.MAX_SPONSOR_NAME for name in names):
        raise InvalidInput("sponsors")
    return names


def _problem(ctx: Context, field: str) -> str:
    problems = {
        "factory": ctx._("That is not one of your factories' codes."),
        "dates": ctx._("Please type two days, the first before the last, for example 7/5-8/20."),
        "ages": ctx._("Please type two ages from 0 to 17, youngest first, for example 3-12."),
        "capacity": ctx._(
            "Please type a number from 1 to {most}, not fewer than the places already held.",
            most=MAX_CAPACITY,
        ),
        "deadline": ctx._(
            "Please type a day on or before the season's last day, for example 6/30."
        ),
        "place": ctx._("Please keep it under {limit} characters.", limit=season_admin.MAX_PLACE),
        "sponsors": ctx._(
            "Please type names of up to {limit} characters, separated by commas.",
            limit=season_admin.MAX_SPONSOR_NAME,
        ),
    }
    return problems.get(field, problems["dates"])


class FormStep(Step):
    """Typed values for a new season, or one changed value of an existing one."""

    name = FORM

    async def prompt(self, ctx: Context) -> None:
        """Ask for the next value."""
        form = ctx.state.data.get("form")
        field = _ask_next(form) if isinstance(form, dict) else None
        if field is None:
            await ctx.go(STAFF)
            return
        ctx.say(_question(ctx, field), [Choice(ctx._("Cancel"), "cancel")])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the value; when all are in, save."""
        form = ctx.state.data.get("form")
        field = _ask_next(form) if isinstance(form, dict) else None
        if field is None or not isinstance(form, dict):
            return False
        today = programme_today()
        if field == "factory":
            factory = await _factory_by_code(ctx, text)
            if factory is None:
                ctx.note(_problem(ctx, field))
                await ctx.reprompt()
                return True
            form["factory_id"] = factory
            await ctx.reprompt()
            return True
        values = form["values"]
        start = end = None
        if "dates" in values:
            start, end = (date.fromisoformat(day) for day in values["dates"])
        elif form["mode"] == "edit" and (found := await _current(ctx)):
            start, end = found.season.starts_on, found.season.ends_on
        try:
            values[field] = _parse(field, text, today, start, end)
        except InvalidInput:
            ctx.note(_problem(ctx, field))
            await ctx.reprompt()
            return True
        if _ask_next(form) is not None:
            await ctx.reprompt()
            return True
        try:
            if form["mode"] == "new":
                await self._create(ctx, int(form["factory_id"]), values)
            else:
                await self._change(ctx, field, values[field])
        except InvalidInput:
            # The last value does not fit with the rest (a deadline after the last day, say).
            values.pop(field, None)
            ctx.note(_problem(ctx, field))
            await ctx.reprompt()
            return True
        except (NotFound, Forbidden):
            ctx.state.data.pop("form", None)
            await _lost(ctx)
            return True
        ctx.state.data.pop("form", None)
        ctx.note(ctx._("Saved."))
        await ctx.go(SEASON)
        return True

    async def _create(self, ctx: Context, factory_id: int, values: dict[str, object]) -> None:
        factory = await get_factory(ctx.uow, factory_id)
        if factory is None:
            raise NotFound(f"factory {factory_id}")
        dates = values["dates"]
        ages = values["ages"]
        assert isinstance(dates, list) and isinstance(ages, list)
        deadline = date.fromisoformat(str(values["deadline"]))
        if deadline > date.fromisoformat(dates[1]):
            raise InvalidInput("deadline")
        made = await seasons.create_season(
            ctx.uow,
            factory_code=factory.code,
            starts_on=date.fromisoformat(dates[0]),
            ends_on=date.fromisoformat(dates[1]),
            min_age_years=int(ages[0]),
            max_age_years=int(ages[1]),
            capacity=int(str(values["capacity"])),
            registration_deadline=deadline,
            place=str(values["place"]),
            actor_person_id=ctx.person.id,
        )
        sponsors = values["sponsors"]
        assert isinstance(sponsors, list)
        if sponsors:
            await season_admin.set_sponsors(ctx.uow, ctx.person.id, made.id, sponsors)
        ctx.state.data["staff_season"] = made.id

    async def _change(self, ctx: Context, field: str, value: object) -> None:
        season_id = int(ctx.state.data.get("staff_season", 0))
        if field == "sponsors":
            assert isinstance(value, list)
            await season_admin.set_sponsors(ctx.uow, ctx.person.id, season_id, value)
            return
        changes = SeasonChanges()
        if field == "dates":
            assert isinstance(value, list)
            changes = SeasonChanges(
                starts_on=date.fromisoformat(value[0]), ends_on=date.fromisoformat(value[1])
            )
        elif field == "ages":
            assert isinstance(value, list)
            changes = SeasonChanges(min_age_years=int(value[0]), max_age_years=int(value[1]))
        elif field == "capacity":
            changes = SeasonChanges(capacity=int(str(value)))
        elif field == "deadline":
            changes = SeasonChanges(registration_deadline=date.fromisoformat(str(value)))
        elif field == "place":
            changes = SeasonChanges(place=str(value))
        await season_admin.update_season(ctx.uow, ctx.notify, ctx.person.id, season_id, changes)


async def _factory_by_code(ctx: Context, text: str) -> int | None:
    factory = await get_factory_by_code(ctx.uow, text.strip())
    if factory is None:
        return None
    scope = await staff.staff_scope(ctx.uow, ctx.person.id)
    return factory.id if scope.covers(factory.id) else None


class ExportStep(Step):
    """The season's registrations or attendance as a spreadsheet file."""

    name = EXPORT

    async def prompt(self, ctx: Context) -> None:
        """Offer the lists and the formats."""
        ctx.say(
            ctx._("Which list? Excel files open on a computer; CSV files open almost anywhere."),
            [
                Choice(ctx._("Registrations (Excel)"), "st:x:registrations:xlsx"),
                Choice(ctx._("Registrations (CSV)"), "st:x:registrations:csv"),
                Choice(ctx._("Attendance (Excel)"), "st:x:attendance:xlsx"),
                Choice(ctx._("Attendance (CSV)"), "st:x:attendance:csv"),
                _back(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Send the file."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        kind, _, fmt = payload.removeprefix("st:x:").partition(":")
        found = await _current(ctx)
        if (
            not payload.startswith("st:x:")
            or kind not in ("registrations", "attendance")
            or fmt not in ("csv", "xlsx")
            or found is None
        ):
            return False
        build = (
            exports.registrations_table if kind == "registrations" else exports.attendance_table
        )
        table = await build(
            ctx.uow, actor_person_id=ctx.person.id, season_id=found.season.id, translator=ctx.t
        )
        await record_event(
            ctx.uow,
            "export.chat",
            actor_person_id=ctx.person.id,
            subject_type=kind,
            subject_id=found.season.id,
            rows=len(table.rows),
        )
        made = exports.export_file(
            table,
            "csv" if fmt == "csv" else "xlsx",
            f"{kind}-{found.factory_code}-{found.season.id}",
        )
        ctx.replies.append(
            Reply(
                ctx.t.ngettext("{n} row", "{n} rows", len(table.rows)),
                attachment=Attachment(made.filename, made.content, made.mime),
            )
        )
        await ctx.reprompt()
        return True


def steps() -> list[Step]:
    """Return the coordinator's steps."""
    return [
        ExportStep(),
        StaffStep(),
        SeasonStep(),
        RegistrationsStep(),
        DeclineStep(),
        WaitlistStep(),
        RosterStep(),
        EditStep(),
        FormStep(),
    ]
