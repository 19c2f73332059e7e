"""A coordinator's typed answers for a new season, or one changed part of a season.

Each value is read and checked as it is typed; a new season is made only when all are in.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.messages import Choice
from ffs_bot.services import season_admin, seasons, staff
from ffs_bot.services.factories import get_factory, get_factory_by_code
from ffs_bot.services.season_admin import SeasonChanges
from handlers import answers, place
from handlers.children import today as programme_today
from handlers.context import Context
from handlers.coordinator import (
    EDIT,
    EDIT_FIELDS,
    FORM,
    MAX_CAPACITY,
    NEW_SEASON_FIELDS,
    SEASON,
    STAFF,
    back_to_season,
    current_season,
    season_lost,
)
from handlers.place import PLACE_EN
from handlers.router import Step

__all__ = ["steps"]


class EditStep(Step):
    """Which part of the season to change."""

    name = EDIT

    async def prompt(self, ctx: Context) -> None:
        """Offer the fields."""
        found = await current_season(ctx)
        if found is None:
            await season_lost(ctx)
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
                back_to_season(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask for the new value, or switch confirming."""
        found = await current_season(ctx)
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
        PLACE_EN: place.english_question(ctx),
    }
    return questions[field]


def _ask_next(form: dict[str, object]) -> str | None:
    values = form.get("values")
    assert isinstance(values, dict)
    if form.get("mode") == "edit":
        fields = place.with_english((str(form["field"]),))
    elif not form.get("factory_id"):
        return "factory"
    else:
        fields = place.with_english(NEW_SEASON_FIELDS)
    return next((f for f in fields if f not in values), None)


def _parse(
    field: str, text: str, today: date, start: date | None, end: date | None, *, editing: bool
) -> object:
    """Read a typed value; raise InvalidInput with the field's name when it cannot be."""
    none = unicodedata.normalize("NFKC", text).strip() in ("-", "—")
    try:
        if field == "dates":
            # Changed dates stay in the season's year; a new season's are near today.
            first, last = answers.parse_date_range(
                text, today, year=start.year if editing and start else None
            )
            if not editing and last < today:
                raise InvalidInput("past")
            return [first.isoformat(), last.isoformat()]
        if field == "ages":
            return list(answers.parse_age_range(text, seasons.MAX_CHILD_AGE))
        if field == "capacity":
            return answers.parse_count(text, MAX_CAPACITY)
        if field == "deadline":
            deadline = answers.parse_date(text, today, year=(start or today).year)
            if end is not None and deadline > end:
                raise InvalidInput("deadline")
            return deadline.isoformat()
    except InvalidInput:
        raise InvalidInput(field) from None
    # sponsors (the place is read by read_place)
    if none:
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
        PLACE_EN: ctx._("Please keep it under {limit} characters.", limit=season_admin.MAX_PLACE),
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
        skip = [place.skip(ctx, "st:place_en:skip")] if field == PLACE_EN else []
        ctx.ask(_question(ctx, field), [*skip, Choice(ctx._("Cancel"), "cancel")])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Skip the place in English."""
        form = ctx.state.data.get("form")
        if payload != "st:place_en:skip" or not isinstance(form, dict):
            return False
        if _ask_next(form) != PLACE_EN:
            return False
        return await self.on_text(ctx, "-")

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
                ctx.retry(_problem(ctx, field))
                return True
            form["factory_id"] = factory
            await ctx.reprompt()
            return True
        values = form["values"]
        start = end = None
        if "dates" in values:
            start, end = (date.fromisoformat(day) for day in values["dates"])
        elif form["mode"] == "edit" and (found := await current_season(ctx)):
            start, end = found.season.starts_on, found.season.ends_on
        try:
            if field == "place":
                values.update(place.read_place(text))
            elif field == PLACE_EN:
                values[field] = place.read_english(text)
            else:
                editing = form["mode"] == "edit"
                values[field] = _parse(field, text, today, start, end, editing=editing)
        except InvalidInput:
            ctx.retry(_problem(ctx, field))
            return True
        if _ask_next(form) is not None:
            await ctx.reprompt()
            return True
        try:
            if form["mode"] == "new":
                await self._create(ctx, int(form["factory_id"]), values)
            else:
                await self._change(ctx, str(form["field"]), values)
        except InvalidInput:
            # The last value does not fit with the rest (a deadline after the last day, say).
            values.pop(field, None)
            ctx.retry(_problem(ctx, field))
            return True
        except (NotFound, Forbidden):
            ctx.state.data.pop("form", None)
            await season_lost(ctx)
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
            place=place.both(values),
            actor_person_id=ctx.person.id,
        )
        sponsors = values["sponsors"]
        assert isinstance(sponsors, list)
        if sponsors:
            await season_admin.set_sponsors(ctx.uow, ctx.person.id, made.id, sponsors)
        ctx.state.data["staff_season"] = made.id

    async def _change(self, ctx: Context, field: str, values: dict[str, object]) -> None:
        value = values[field]
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
            changes = SeasonChanges(place=place.both(values))
        await season_admin.update_season(ctx.uow, ctx.notify, ctx.person.id, season_id, changes)


async def _factory_by_code(ctx: Context, text: str) -> int | None:
    factory = await get_factory_by_code(ctx.uow, text.strip())
    if factory is None:
        return None
    scope = await staff.staff_scope(ctx.uow, ctx.person.id)
    return factory.id if scope.covers(factory.id) else None


def steps() -> list[Step]:
    """Return the season form's steps."""
    return [EditStep(), FormStep()]
