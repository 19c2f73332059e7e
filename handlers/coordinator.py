"""The coordinator's side of the Family-Friendly Space: seasons, decisions, roster, check-in.

Only staff see the way in; every action is checked again by the services, so a stale button
or a role taken away mid-conversation changes nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ffs_bot import exports, spreadsheets
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import N_
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.model import age_in_months
from ffs_bot.services import season_admin, staff
from ffs_bot.services.audit import record_event
from ffs_bot.services.season_admin import RosterEntry, SeasonChanges, StaffSeason
from ffs_bot.services.seasons import RegistrationStatus
from handlers import menu
from handlers.context import Context
from handlers.payloads import payload_id, record_id
from handlers.router import Step

__all__ = ["STAFF", "back_to_season", "current_season", "season_lost", "steps"]

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

# The fields a new season asks for, in order; editing asks for one of them.
NEW_SEASON_FIELDS = ("dates", "ages", "capacity", "deadline", "place", "sponsors")
EDIT_FIELDS = ("dates", "ages", "capacity", "deadline", "place", "sponsors")
MAX_CAPACITY = 500


def _local_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def _season_label(ctx: Context, found: StaffSeason) -> str:
    # With the year: staff see this summer's seasons among the past ones.
    season = found.season
    dates = ctx.t.date_range(season.starts_on, season.ends_on, with_year=True)
    return f"{found.factory_code} {dates}"


async def current_season(ctx: Context) -> StaffSeason | None:
    """The season this conversation is about, if the person still runs it."""
    try:
        return await season_admin.season_for_staff(
            ctx.uow, ctx.person.id, int(ctx.state.data.get("staff_season", 0))
        )
    except (NotFound, Forbidden):
        return None


async def season_lost(ctx: Context) -> None:
    """Say the season is no longer the person's to run, and list theirs."""
    ctx.note(ctx._("That season is no longer yours to run."))
    await ctx.go(STAFF)


def back_to_season(ctx: Context) -> Choice:
    """A button back to the season's screen."""
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
        # Headed by the name of the menu button that opened it: this is more than seasons.
        text = (
            ctx._("Staff menu")
            + "\n"
            + (
                ctx._("Which season?")
                if found
                else ctx._("No Family-Friendly Space season yet at your factories.")
            )
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
        if (number := payload_id(payload, "st:season:")) is None:
            return False
        ctx.state.data["staff_season"] = number
        if await current_season(ctx) is None:
            return False
        await ctx.go(SEASON)
        return True


def _season_text(ctx: Context, found: StaffSeason, counts: dict[RegistrationStatus, int]) -> str:
    season = found.season
    lines = [
        ctx._(
            "{factory}: {dates}",
            factory=found.factory_name_en if ctx.language == "en" else found.factory_name_zh,
            dates=ctx.t.date_range(season.starts_on, season.ends_on, with_year=True),
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
        lines.append(ctx._("Place: {place}", place=found.place.pick(ctx.language)))
    return "\n".join(lines)


class SeasonStep(Step):
    """One season: its figures and what can be done with it."""

    name = SEASON

    async def prompt(self, ctx: Context) -> None:
        """Show the season and its actions."""
        found = await current_season(ctx)
        if found is None:
            await season_lost(ctx)
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
        found = await current_season(ctx)
        if found is None:
            await season_lost(ctx)
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


def _child_name(ctx: Context, entry: RosterEntry) -> str:
    """The child's name, or that the child's data was erased (the row stays for the facts)."""
    return ctx._(exports.ERASED_CHILD) if entry.erased else entry.child_name


def _entry_line(ctx: Context, n: int, entry: RosterEntry, found: StaffSeason) -> str:
    line = ctx._(
        "{n}. {name}, {age} · {days} · {status}",
        n=n,
        name=_child_name(ctx, entry),
        age=ctx.t.ngettext("{n} year", "{n} years", _age(entry, found)),
        days=ctx.t.date_range(entry.starts_on, entry.ends_on),
        status=_status_label(ctx, entry.status),
    )
    if entry.guardians:
        line += "\n   " + ctx._("Family: {names}", names=", ".join(entry.guardians))
    if entry.health_notes:
        line += "\n   " + ctx._("Health: {notes}", notes=entry.health_notes)
    return line


def _button_names(ctx: Context, entries: list[RosterEntry]) -> list[str]:
    """Each entry's child for a button; a name two children share gets their days too."""
    # A button names the child, not a line number that shifts after each decision.
    names = Counter(entry.child_name for entry in entries)
    return [
        entry.child_name
        if names[entry.child_name] == 1
        else f"{entry.child_name} {ctx.t.date_range(entry.starts_on, entry.ends_on)}"
        for entry in entries
    ]


class _EntriesStep(Step):
    """A season's registrations of some statuses, numbered, with a button per action."""

    statuses: tuple[RegistrationStatus, ...] = ()
    empty = ""  # what to say when there are none (an English msgid)

    async def prompt(self, ctx: Context) -> None:
        """List the entries and their buttons."""
        found = await current_season(ctx)
        if found is None:
            await season_lost(ctx)
            return
        entries = await season_admin.registrations(
            ctx.uow, ctx.person.id, found.season.id, self.statuses
        )
        if not entries:
            ctx.say(ctx._(self.empty), [back_to_season(ctx)])
            return
        shown = entries[:SHOWN]
        lines = [
            _entry_line(ctx, n, e, found) + self.more(ctx, e, found)
            for n, e in enumerate(shown, 1)
        ]
        if len(entries) > SHOWN:
            lines.append(
                ctx._("… and {n} more: export the list to see them all.", n=len(entries) - SHOWN)
            )
        buttons: list[Choice] = []
        for entry, who in zip(shown, _button_names(ctx, shown), strict=True):
            if entry.status is RegistrationStatus.REQUESTED:
                buttons.append(
                    Choice(ctx._("Confirm: {name}", name=who), f"st:ok:{entry.registration_id}")
                )
            buttons.append(
                Choice(ctx._("Decline: {name}", name=who), f"st:no:{entry.registration_id}")
            )
        ctx.say("\n".join(lines), [*buttons, back_to_season(ctx)])

    def more(self, ctx: Context, entry: RosterEntry, found: StaffSeason) -> str:
        """Anything this list adds to an entry's line."""
        return ""

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Confirm at once, or ask why before declining; or go back."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        action, _, text = payload.removeprefix("st:").partition(":")
        number = record_id(text)
        if action not in ("ok", "no") or number is None or not payload.startswith("st:"):
            return False
        if action == "no":
            ctx.state.data["decline"] = number
            ctx.state.data["decline_from"] = self.name
            await ctx.go(DECLINE)
            return True
        try:
            if not await season_admin.confirm_registration(
                ctx.uow, ctx.notify, ctx.person.id, number
            ):
                return False  # pressed twice
        except (NotFound, Forbidden, ConflictError):
            return False
        ctx.note(ctx._("Confirmed. The family has been told."))
        await ctx.reprompt()
        return True


class RegistrationsStep(_EntriesStep):
    """Registrations, those to confirm first, with confirm and decline buttons."""

    name = REGISTRATIONS
    statuses = (RegistrationStatus.REQUESTED, RegistrationStatus.CONFIRMED)
    empty = N_("No registrations yet.")


class WaitlistStep(_EntriesStep):
    """The queue, in order, with who holds an offer and until when."""

    name = WAITLIST
    statuses = (RegistrationStatus.OFFERED, RegistrationStatus.WAITLISTED)
    empty = N_("Nobody is waiting.")

    def more(self, ctx: Context, entry: RosterEntry, found: StaffSeason) -> str:
        """When the offer held by this family ends."""
        if entry.offer_expires_at is None:
            return ""
        return "\n   " + ctx._(
            "Offer open until {time}",
            time=ctx.t.weekday_moment(entry.offer_expires_at, found.timezone),
        )


class DeclineStep(Step):
    """Why a registration is declined, in words the family will read."""

    name = DECLINE

    async def prompt(self, ctx: Context) -> None:
        """Ask for the reason."""
        ctx.ask(
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
            ctx.retry(
                ctx._(
                    "Please keep the reason under {limit} characters.",
                    limit=season_admin.MAX_REASON,
                )
            )
            return True
        except ConflictError:
            ctx.note(ctx._("That registration has ended already."))
        except (NotFound, Forbidden):
            await season_lost(ctx)
            return True
        else:
            ctx.note(ctx._("Declined. The family has been told why."))
        ctx.state.data.pop("decline", None)
        await ctx.go(str(ctx.state.data.pop("decline_from", REGISTRATIONS)))
        return True


class RosterStep(Step):
    """Today's children, checked in and out with one tap each."""

    name = ROSTER

    async def prompt(self, ctx: Context) -> None:
        """List today's children and their times."""
        found = await current_season(ctx)
        if found is None:
            await season_lost(ctx)
            return
        today = _local_today(found.timezone)
        entries = await season_admin.roster(ctx.uow, ctx.person.id, found.season.id, today)
        if not entries:
            ctx.say(
                ctx._("No child has a place on {day}.", day=ctx.t.day(today)),
                [back_to_season(ctx)],
            )
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
            name = _child_name(ctx, entry)
            line = f"{n}. {name}" + (f" · {times}" if times else "")
            if entry.health_notes:
                line += "\n   " + ctx._("Health: {notes}", notes=entry.health_notes)
            lines.append(line)
            if seen is None:
                buttons.append(
                    Choice(
                        ctx._("In: {name}", name=name),
                        f"st:in:{entry.registration_id}",
                    )
                )
            elif seen.checked_out_at is None:
                buttons.append(
                    Choice(
                        ctx._("Out: {name}", name=name),
                        f"st:out:{entry.registration_id}",
                    )
                )
        ctx.say("\n".join(lines), [*buttons, back_to_season(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Check a child in or out."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        action, _, text = payload.removeprefix("st:").partition(":")
        if action not in ("in", "out") or (number := record_id(text)) is None:
            return False
        found = await current_season(ctx)
        if found is None:
            return False
        today = _local_today(found.timezone)
        act = season_admin.check_in if action == "in" else season_admin.check_out
        try:
            _attendance, changed = await act(ctx.uow, ctx.person.id, number, today)
        except (NotFound, Forbidden, ConflictError, InvalidInput):
            return False
        if not changed:
            return False  # pressed twice
        await ctx.reprompt()
        return True


def _clock(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


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
                back_to_season(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Send the file."""
        if payload == "st:back":
            await ctx.go(SEASON)
            return True
        kind, _, fmt = payload.removeprefix("st:x:").partition(":")
        found = await current_season(ctx)
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
        made = spreadsheets.export_file(
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
    ]
