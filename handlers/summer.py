"""The summer Family-Friendly Space: register a child for the days they will come, or cancel."""

from __future__ import annotations

from datetime import date

from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.i18n import N_
from ffs_bot.messages import Choice
from ffs_bot.notices import offer_payload
from ffs_bot.services import children, seasons
from ffs_bot.services.seasons import HeldSeason, Registration, RegistrationStatus, Season
from handlers import answers, menu
from handlers.children import CHILDREN, today
from handlers.confirm import ConfirmCancelStep
from handlers.context import Context
from handlers.payloads import payload_id, record_id
from handlers.router import Step

__all__ = ["SUMMER", "answer_offer", "steps"]

SUMMER = "summer"
PICK_CHILD = "summer.child"
DAYS = "summer.days"
WEEKS = "summer.weeks"
MAX_WEEK_BUTTONS = 10
MINE = "summer.mine"
CANCEL = "summer.cancel"
REGISTERED = "summer.registered"
# The registration whose days are being changed (instead of a new one being made).
_CHANGE = "change_registration"


def _season_text(ctx: Context, season: Season) -> str:
    return ctx._(
        "Family-Friendly Space: {dates}\nChildren aged {youngest} to {oldest}\n"
        "Places left: {left} of {capacity}\nRegister by: {deadline}",
        dates=ctx.t.date_range(season.starts_on, season.ends_on),
        youngest=season.min_age_years,
        oldest=season.max_age_years,
        left=max(season.seats_left, 0),
        capacity=season.capacity,
        deadline=ctx.t.day(season.registration_deadline),
    ) + (
        "\n" + ctx._("How to get there: {place}", place=season.place.pick(ctx.language))
        if season.place
        else ""
    )


# Declined or cancelled: listed with why, with nothing left to do about them.
_ENDED = (RegistrationStatus.DECLINED, RegistrationStatus.CANCELLED)
_REGISTER_FOR = "summer:register:"  # and a season's id, when more than one is open
_HELD = "summer.season"  # the season held to register for, in Context.read
_FAMILY = "summer.family"  # the family's registrations just after registering, likewise


async def _held(ctx: Context) -> HeldSeason | None:
    """The season chosen, held to register the child chosen (`seasons.hold_season`)."""
    season_id = int(ctx.state.data.get("season_id", 0))
    held = ctx.read.get(_HELD)
    if isinstance(held, HeldSeason) and held.season.id == season_id:
        return held
    try:
        held = await seasons.hold_season(
            ctx.uow,
            season_id,
            person_id=ctx.person.id,
            child_id=int(ctx.state.data.get("child_id", 0)),
            today=today(),
        )
    except NotFound:
        return None
    # Registering uses it as it is; a prompt after a refused registration shows the season.
    ctx.read[_HELD] = held
    return held


async def _season(ctx: Context, *, hold: bool = False) -> Season | None:
    """The season chosen; `hold` to register for it (then read once for the whole message)."""
    if hold or _HELD in ctx.read:
        held = await _held(ctx)
        return None if held is None else held.season
    try:
        return await seasons.get_season(ctx.uow, int(ctx.state.data.get("season_id", 0)))
    except NotFound:
        return None


def _status_text(ctx: Context, name: str, registration: Registration) -> str:
    days = ctx.t.date_range(registration.starts_on, registration.ends_on)
    if registration.status is RegistrationStatus.CONFIRMED:
        return ctx._("{name} has a place, {days}.", name=name, days=days)
    if registration.status is RegistrationStatus.OFFERED:
        return ctx._(
            "{name}: a place is offered for {days}. Tap Yes or No below.", name=name, days=days
        )
    if registration.status is RegistrationStatus.REQUESTED:
        return ctx._(
            "{name}: requested for {days}. The coordinator will confirm.", name=name, days=days
        )
    return ctx._(
        "{name} is number {n} on the waiting list for {days}. We will tell you if a place opens.",
        name=name,
        n=registration.queue_position or 0,
        days=days,
    )


def _list_line(ctx: Context, name: str, registration: Registration) -> str:
    """One registration in the family's list: who, which days, and where it stands."""
    days = ctx.t.date_range(registration.starts_on, registration.ends_on)
    if registration.status is RegistrationStatus.CONFIRMED:
        return ctx._("{name}, {days}: has a place", name=name, days=days)
    if registration.status is RegistrationStatus.OFFERED:
        return ctx._("{name}, {days}: place offered, answer below", name=name, days=days)
    if registration.status is RegistrationStatus.REQUESTED:
        return ctx._("{name}, {days}: the coordinator will confirm", name=name, days=days)
    if registration.status is RegistrationStatus.DECLINED:
        return ctx._(
            "{name}, {days}: not accepted. Reason: {reason}",
            name=name,
            days=days,
            reason=registration.reason,
        )
    if registration.status is RegistrationStatus.CANCELLED:
        why = {
            seasons.OFFER_DECLINED: N_("{name}, {days}: cancelled, you passed on the place"),
            seasons.OFFER_EXPIRED: N_(
                "{name}, {days}: cancelled, the place offered was not taken in time"
            ),
        }.get(registration.reason, N_("{name}, {days}: cancelled"))
        return ctx._(why, name=name, days=days)
    return ctx._(
        "{name}, {days}: waiting list, number {n}",
        name=name,
        days=days,
        n=registration.queue_position or 0,
    )


class SummerStep(Step):
    """The seasons taking registrations at the person's factory (mostly one)."""

    name = SUMMER

    async def prompt(self, ctx: Context) -> None:
        """Show the seasons taking registrations, or say there is none."""
        found = (
            await seasons.open_seasons(ctx.uow, ctx.person.factory_id, today())
            if ctx.person.factory_id
            else []
        )
        mine = Choice(ctx._("My registrations"), "summer:mine")
        if not found:
            ctx.say(
                ctx._("No Family-Friendly Space at your factory is taking registrations now."),
                [mine, menu.main_menu_choice(ctx)],
            )
            return
        if len(found) == 1:
            ctx.state.data["season_id"] = found[0].id
            register = [Choice(ctx._("Register a child"), "summer:register")]
        else:
            # Two holidays can take registrations at once: a winter space and next summer's.
            register = [
                Choice(
                    ctx._(
                        "Register for {dates}",
                        dates=ctx.t.date_range(season.starts_on, season.ends_on),
                    ),
                    f"{_REGISTER_FOR}{season.id}",
                )
                for season in found
            ]
        ctx.say(
            "\n\n".join(_season_text(ctx, season) for season in found),
            [*register, mine, menu.main_menu_choice(ctx)],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Pick a child to register, or see the registrations."""
        if payload == "summer:mine":
            await ctx.go(MINE)
            return True
        if payload == "summer:register":
            chosen = await _season(ctx) is not None
        else:
            chosen = payload.startswith(_REGISTER_FOR) and await self._choose(ctx, payload)
        if chosen:
            await ctx.go(PICK_CHILD)
        return chosen

    @staticmethod
    async def _choose(ctx: Context, payload: str) -> bool:
        """Choose the season a button names, if it still takes registrations here."""
        number = payload_id(payload, _REGISTER_FOR)
        if number is None or not ctx.person.factory_id:
            return False
        found = await seasons.open_seasons(ctx.uow, ctx.person.factory_id, today())
        if number not in {season.id for season in found}:
            return False
        ctx.state.data["season_id"] = number
        return True


class PickChildStep(Step):
    """Which child to register."""

    name = PICK_CHILD

    async def prompt(self, ctx: Context) -> None:
        """Offer the person's children."""
        kids = await children.list_children(ctx.uow, ctx.person.id)
        if not kids:
            ctx.say(
                ctx._("Add your child first; then you can register them."),
                [Choice(ctx._("My children"), CHILDREN), menu.main_menu_choice(ctx)],
            )
            return
        ctx.say(
            ctx._("Which child will come?"),
            [
                *(Choice(kid.name, f"summer:child:{kid.id}") for kid in kids),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Remember the child and ask for the days."""
        if payload == CHILDREN:
            await ctx.go(CHILDREN)
            return True
        if (number := payload_id(payload, "summer:child:")) is None:
            return False
        ctx.state.data["child_id"] = number
        ctx.state.data.pop(_CHANGE, None)
        held = await _held(ctx)
        if held is None or held.child is None:
            return False
        # What can be told without the days is told before they are asked.
        if held.registration_of_child() is not None:
            await ctx.go(REGISTERED)
            return True
        try:
            seasons.check_can_register(held.season, held.child, today())
        except InvalidInput as problem:
            ctx.state.data.pop("child_id", None)
            ctx.note(_refusal(ctx, str(problem), held.season, held.child.name))
            await ctx.go(SUMMER)
            return True
        await ctx.go(DAYS)
        return True


def _refusal(ctx: Context, problem: str, season: Season, name: str) -> str:
    """Why the child cannot be registered for the season ("age" or "closed")."""
    if problem == "age":
        return ctx._(
            "This space takes children aged {youngest} to {oldest} when it starts; "
            "{name} is not in that range.",
            youngest=season.min_age_years,
            oldest=season.max_age_years,
            name=name,
        )
    return ctx._("Registration for this space has closed.")


class RegisteredStep(Step):
    """The child chosen is registered already: say how, and offer other days."""

    name = REGISTERED

    async def prompt(self, ctx: Context) -> None:
        """Say where the registration stands; offer to change its days."""
        held = await _held(ctx)
        registration = held.registration_of_child() if held is not None else None
        if held is None or held.child is None or registration is None:
            await ctx.go(SUMMER)
            return
        ctx.say(
            "\n\n".join(
                [
                    ctx._("{name} is already registered for this space.", name=held.child.name),
                    _status_text(ctx, held.child.name, registration),
                ]
            ),
            [
                Choice(ctx._("Change the days"), f"summer:change:{registration.id}"),
                Choice(ctx._("My registrations"), "summer:mine"),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask for the new days, or show the registrations."""
        if payload == "summer:mine":
            await ctx.go(MINE)
            return True
        held = await _held(ctx)
        registration = held.registration_of_child() if held is not None else None
        if registration is None or payload_id(payload, "summer:change:") != registration.id:
            return False
        ctx.state.data[_CHANGE] = registration.id
        await ctx.go(DAYS)
        return True


class DaysStep(Step):
    """The days the child will come; then the registration is made."""

    name = DAYS

    async def prompt(self, ctx: Context) -> None:
        """Offer the whole season, or typed dates."""
        season = await _season(ctx)
        if season is None:
            await ctx.go(SUMMER)
            return
        ctx.say(
            ctx._(
                "Which days will your child come? Tap the whole season or choose weeks, or "
                "type the first and last day, for example 7/10-8/15."
            ),
            [
                Choice(
                    ctx._(
                        "Whole season: {dates}",
                        dates=ctx.t.date_range(season.starts_on, season.ends_on),
                    ),
                    "summer:whole",
                ),
                *(
                    [Choice(ctx._("Choose weeks"), "summer:weeks")]
                    if 1 < len(seasons.season_weeks(season)) <= MAX_WEEK_BUTTONS
                    else []
                ),
                Choice(ctx._("Cancel"), "cancel"),
            ],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Register for the typed days."""
        season = await _season(ctx, hold=True)
        if season is None:
            return False
        # The button's words typed instead of tapped (整个托管期, Whole season) mean it too.
        whole = ctx._("Whole season: {dates}", dates="").strip(" :：")
        try:
            first, last = answers.parse_date_range(
                text,
                today(),
                year=season.starts_on.year,
                whole=(season.starts_on, season.ends_on),
                whole_words=(whole,),
            )
        except InvalidInput:
            ctx.retry(self._dates_problem(ctx, season))
            return True
        await self.register(ctx, season, first, last)
        return True

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Register for the whole season, or go on to pick weeks."""
        season = await _season(ctx, hold=True)
        if season is None or "child_id" not in ctx.state.data:
            return False
        if payload == "summer:weeks":
            ctx.state.data.pop("first_week", None)
            await ctx.go(WEEKS)
            return True
        if payload != "summer:whole":
            return False
        await self.register(ctx, season, season.starts_on, season.ends_on)
        return True

    @staticmethod
    def _dates_problem(ctx: Context, season: Season) -> str:
        return ctx._(
            "Please choose days between {dates}, for example 7/10-8/15.",
            dates=ctx.t.date_range(season.starts_on, season.ends_on),
        )

    async def register(self, ctx: Context, season: Season, first: date, last: date) -> None:
        """Make the registration and say how it went."""
        held = await _held(ctx)
        if held is None or held.child is None:
            raise NotFound(f"child {ctx.state.data.get('child_id')}")
        child = held.child
        if _CHANGE in ctx.state.data:
            await self._change(ctx, season, child.name, first, last)
            return
        try:
            registration = await seasons.register_child(
                ctx.uow,
                person_id=ctx.person.id,
                child=child,
                season=season,
                starts_on=first,
                ends_on=last,
                today=today(),
            )
        except InvalidInput as problem:
            await self._refused(ctx, problem, season, child.name)
            return
        except ConflictError:
            ctx.note(ctx._("{name} is already registered for this space.", name=child.name))
            await ctx.go(MINE)
            return
        ctx.state.data.pop("child_id", None)
        ctx.note(_status_text(ctx, child.name, registration))
        ctx.read[_FAMILY] = held.with_registration(registration)
        await ctx.go(MINE)

    async def _refused(
        self, ctx: Context, problem: InvalidInput, season: Season, name: str
    ) -> None:
        """Days the season does not have: say so here; any other refusal: back to summer."""
        if str(problem) == "dates":
            ctx.retry(self._dates_problem(ctx, season))
            return
        ctx.note(_refusal(ctx, str(problem), season, name))
        await ctx.go(SUMMER)

    async def _change(
        self, ctx: Context, season: Season, name: str, first: date, last: date
    ) -> None:
        """Move the registration being changed to the days chosen."""
        try:
            registration = await seasons.change_registration_days(
                ctx.uow,
                person_id=ctx.person.id,
                registration_id=int(ctx.state.data.get(_CHANGE, 0)),
                starts_on=first,
                ends_on=last,
                today=today(),
            )
        except InvalidInput as problem:
            await self._refused(ctx, problem, season, name)
            return
        except (NotFound, ConflictError):
            ctx.note(ctx._("That registration has ended already."))
            await ctx.go(MINE)
            return
        ctx.state.data.pop(_CHANGE, None)
        ctx.state.data.pop("child_id", None)
        ctx.note(
            ctx._(
                "Changed: {name} comes {days}.",
                name=name,
                days=ctx.t.date_range(registration.starts_on, registration.ends_on),
            )
        )
        await ctx.go(MINE)


class WeeksStep(Step):
    """The first week, then the last week the child will come, as buttons."""

    name = WEEKS

    async def prompt(self, ctx: Context) -> None:
        """Offer the weeks left to choose from."""
        season = await _season(ctx)
        if season is None:
            await ctx.go(SUMMER)
            return
        weeks = seasons.season_weeks(season)
        first = ctx.state.data.get("first_week")
        start = 0 if first is None else int(first)
        ctx.say(
            ctx._("From which week?") if first is None else ctx._("Until which week?"),
            [
                *(
                    Choice(
                        ctx._("Week {n}: {dates}", n=n + 1, dates=ctx.t.date_range(*weeks[n])),
                        f"summer:week:{n}",
                    )
                    for n in range(start, len(weeks))
                ),
                Choice(ctx._("Cancel"), "cancel"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Remember the first week; with the last, register."""
        season = await _season(ctx, hold=True)
        number = payload.removeprefix("summer:week:")
        if season is None or not payload.startswith("summer:week:") or not number.isdecimal():
            return False
        weeks = seasons.season_weeks(season)
        first = ctx.state.data.get("first_week")
        chosen = int(number)
        if chosen >= len(weeks) or (first is not None and chosen < int(first)):
            return False
        if first is None:
            ctx.state.data["first_week"] = chosen
            await ctx.reprompt()
            return True
        ctx.state.data.pop("first_week", None)
        step = ctx.router.get(DAYS)
        assert isinstance(step, DaysStep)
        ctx.state.step = DAYS  # a problem with the dates asks the days question again
        await step.register(ctx, season, weeks[int(first)][0], weeks[chosen][1])
        return True


class MineStep(Step):
    """The family's registrations, each with a button to cancel it."""

    name = MINE

    async def prompt(self, ctx: Context) -> None:
        """List the registrations."""
        # Just after registering, the list read with the season held and the new one.
        found = ctx.read.pop(_FAMILY, None)
        if found is None:
            found = await seasons.list_family_registrations(ctx.uow, ctx.person.id, today())
        if not found:
            text = ctx._("None of your children is registered.")
        else:
            text = "\n".join(
                [
                    ctx._("Registrations:"),
                    *("• " + _list_line(ctx, f.child_name, f.registration) for f in found),
                ]
            )
        buttons: list[Choice] = []
        for f in found:
            if f.registration.status is RegistrationStatus.OFFERED:
                buttons += [
                    Choice(
                        ctx._("Yes, a place for {name}", name=f.child_name),
                        offer_payload("yes", f.registration.id),
                    ),
                    Choice(
                        ctx._("No, pass on {name}'s place", name=f.child_name),
                        offer_payload("no", f.registration.id),
                    ),
                ]
            elif f.registration.status not in _ENDED:
                buttons.append(
                    Choice(
                        ctx._("Cancel for {name}", name=f.child_name),
                        f"summer:cancel:{f.registration.id}",
                    )
                )
        ctx.say(text, [*buttons, menu.main_menu_choice(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask before cancelling."""
        if (number := payload_id(payload, "summer:cancel:")) is None:
            return False
        ids = {
            f.registration.id
            for f in await seasons.list_family_registrations(ctx.uow, ctx.person.id, today())
            if f.registration.status not in _ENDED
        }
        if number not in ids:
            return False
        ctx.state.data["registration_id"] = number
        await ctx.go(CANCEL)
        return True


class CancelStep(ConfirmCancelStep):
    """Confirm a cancellation."""

    name = CANCEL
    prefix = "summer:cancel"
    key = "registration_id"
    back = MINE
    question = N_("Cancel this registration? The place goes to the next family waiting.")

    async def cancel(self, ctx: Context, record_id: int) -> None:
        """Cancel it; the place goes on."""
        await seasons.cancel_registration(ctx.uow, ctx.notify, ctx.person.id, record_id)


async def answer_offer(ctx: Context, payload: str) -> bool:
    """Take or pass on an offered place, from the push's buttons or the family's list."""
    answer, _, text = payload.removeprefix("offer:").partition(":")
    number = record_id(text)
    if not payload.startswith("offer:") or answer not in ("yes", "no") or number is None:
        return False
    try:
        registration = await seasons.answer_offer(
            ctx.uow, ctx.notify, ctx.person.id, number, accept=answer == "yes"
        )
    except NotFound:
        return False
    except ConflictError:
        ctx.note(ctx._("This offer has ended: it was answered already, or its time ran out."))
        await ctx.go(MINE)
        return True
    if registration.status is RegistrationStatus.CANCELLED:
        ctx.note(ctx._("Thank you for telling us. The place goes to the next family."))
    else:
        child = await children.get_child(ctx.uow, ctx.person.id, registration.child_id)
        ctx.note(_status_text(ctx, child.name, registration))
    await ctx.go(MINE)
    return True


def steps() -> list[Step]:
    """Return the summer space's steps."""
    return [
        SummerStep(),
        PickChildStep(),
        RegisteredStep(),
        DaysStep(),
        WeeksStep(),
        MineStep(),
        CancelStep(),
    ]
