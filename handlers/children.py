"""My children: add a child after the guardian's consent, see, correct, and withdraw consent."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ffs_bot.errors import InvalidInput, NotFound
from ffs_bot.i18n import N_
from ffs_bot.messages import Choice
from ffs_bot.model import Child, Gender, Relationship
from ffs_bot.services import children, erasure
from ffs_bot.services.people import MAX_DISPLAY_NAME
from handlers import account, answers, menu
from handlers.context import Context
from handlers.payloads import payload_id
from handlers.router import Step

__all__ = ["CHILDREN", "RELATION_LABELS", "VIEW", "child_notice", "steps", "today"]

CHILDREN = "children"
NOTICE = "child.notice"
NAME = "child.name"
BIRTH = "child.birth"
GENDER = "child.gender"
RELATION = "child.relation"
VIEW = "child.view"
RENAME = "child.rename"
REBIRTH = "child.rebirth"
HEALTH_NOTICE = "child.health_notice"
HEALTH = "child.health"
REMOVE = "child.remove"
# Joining a child with a code from the other parent: handlers.guardians.
JOIN = "child.join"

_NUMBERS = re.compile(r"\d+")
# Birth months are dates in the programme's own time zone, where the families live.
PROGRAMME_TIMEZONE = ZoneInfo("Asia/Shanghai")
GENDER_LABELS = {Gender.GIRL: N_("Girl"), Gender.BOY: N_("Boy")}
RELATION_LABELS = {
    Relationship.MOTHER: N_("Mother"),
    Relationship.FATHER: N_("Father"),
    Relationship.GRANDPARENT: N_("Grandparent"),
    Relationship.OTHER: N_("Other family or carer"),
}


def today() -> date:
    """Today in the programme's time zone."""
    return datetime.now(PROGRAMME_TIMEZONE).date()


def cancel_choice(ctx: Context) -> Choice:
    """A button that cancels what is under way."""
    return Choice(ctx._("Cancel"), "cancel")


def _age(ctx: Context, child: Child) -> str:
    now = today()
    months = child.age_in_months(now.year, now.month)
    if months < 12:
        return ctx.t.ngettext("{n} month old", "{n} months old", max(months, 0))
    return ctx.t.ngettext("{n} year old", "{n} years old", months // 12)


def _summary(ctx: Context, child: Child) -> str:
    return ctx._(
        "{name}, born {month} ({age})",
        name=child.name,
        month=ctx.t.month(child.birth_year, child.birth_month),
        age=_age(ctx, child),
    )


_SAVED = "child.saved"  # the child just added, as the service read it back, in ctx.read


async def _current_child(ctx: Context) -> Child | None:
    """The child this part of the conversation is about, if the person still has it."""
    # Just added: nothing has changed it since the service read it back.
    saved = ctx.read.get(_SAVED)
    if isinstance(saved, Child) and saved.id == ctx.state.data.get("child_id"):
        return saved
    try:
        return await children.get_child(
            ctx.uow, ctx.person.id, int(ctx.state.data.get("child_id", 0))
        )
    except NotFound:
        return None


def _birth_problem(ctx: Context, problem: str, text: str) -> str:
    if problem == "future":
        return ctx._("That month has not come yet. Please check the year.")
    if problem == "too old":
        return ctx._(
            "That is more than {n} years ago. Please check the year.",
            n=children.MAX_CHILD_AGE_YEARS,
        )
    if len(_NUMBERS.findall(unicodedata.normalize("NFKC", text))) == 3:
        # A whole date (2021-02-30): the day is what does not belong, whatever its value.
        return ctx._("Only the year and month, without the day: for example 2018-03.")
    return ctx._("Please type the year and month, for example 2018-03 or 2018年3月.")


def child_notice(ctx: Context) -> str:
    """What is kept about a child, and the question for the guardian's consent."""
    return ctx._(
        "About your child's information\n"
        "• We keep: the name you use for your child, the birth year and month, and "
        "(if you tell us) whether a girl or a boy. We never ask for ID numbers.\n"
        "• Why: to arrange the Family-Friendly Space and tips that fit your child's "
        "age.\n"
        "• Who sees it: you, the other parent if you invite them, your factory's "
        "coordinator and the programme's staff.\n"
        "• You can remove it at any time.\n\n"
        "As the child's parent or guardian, do you agree?"
    )


class ChildrenStep(Step):
    """The list of the person's children."""

    name = CHILDREN

    async def prompt(self, ctx: Context) -> None:
        """List the children, with a button for each and one to add another."""
        ctx.state.data.pop("child_id", None)
        ctx.state.data.pop("new_child", None)
        kids = await children.list_children(ctx.uow, ctx.person.id)
        if kids:
            text = "\n".join(
                [ctx._("Your children:"), *("• " + _summary(ctx, kid) for kid in kids)]
            )
        else:
            text = ctx._("You have not added any children yet.")
        ctx.say(
            text,
            [
                *(Choice(kid.name, f"child:{kid.id}") for kid in kids),
                Choice(ctx._("Add a child"), "child:add"),
                Choice(ctx._("Enter an invite code"), "child:join"),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open a child, or start adding one."""
        if payload == CHILDREN:
            await ctx.go(CHILDREN)
            return True
        if payload == "child:add":
            ctx.state.data["new_child"] = {}
            await ctx.go(NOTICE)
            return True
        if payload == "child:join":
            await ctx.go(JOIN)
            return True
        if (number := payload_id(payload, "child:")) is not None:
            ctx.state.data["child_id"] = number
            if await _current_child(ctx) is None:
                return False
            await ctx.go(VIEW)
            return True
        return False


class NoticeStep(Step):
    """What is kept about a child, and the guardian's consent before anything is."""

    name = NOTICE

    async def prompt(self, ctx: Context) -> None:
        """Show the notice and ask for consent."""
        ctx.say(
            child_notice(ctx),
            [Choice(ctx._("I agree"), "childnotice:yes"), Choice(ctx._("No"), "childnotice:no")],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Go on to the child's name, or keep nothing."""
        if payload == "childnotice:yes":
            await ctx.go(NAME)
        elif payload == "childnotice:no":
            ctx.note(ctx._("OK. Nothing about your child was saved."))
            await ctx.go(CHILDREN)
        else:
            return False
        return True


class NameStep(Step):
    """The name the family uses for the child."""

    name = NAME

    async def prompt(self, ctx: Context) -> None:
        """Ask for the child's name."""
        ctx.ask(
            ctx._(
                "What do you call your child? A first name or nickname is enough "
                "(up to {limit} characters).",
                limit=MAX_DISPLAY_NAME,
            ),
            [cancel_choice(ctx)],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Keep the name for the new child and ask for the birth month."""
        try:
            name = account.read_name(ctx, text)
        except InvalidInput as problem:
            ctx.retry(str(problem))
            return True
        ctx.state.data.setdefault("new_child", {})["name"] = name
        await ctx.go(BIRTH)
        return True


class BirthStep(Step):
    """The child's birth year and month."""

    name = BIRTH

    async def prompt(self, ctx: Context) -> None:
        """Ask when the child was born."""
        name = ctx.state.data.get("new_child", {}).get("name", "")
        ctx.ask(
            ctx._(
                "When was {name} born? Type the year and month, for example 2018-03 or 2018年3月.",
                name=name,
            ),
            [cancel_choice(ctx)],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the month and ask about gender."""
        try:
            year, month = answers.parse_month(text, today())
            children.check_birth_month(year, month, today())
        except InvalidInput as problem:
            ctx.retry(_birth_problem(ctx, str(problem), text))
            return True
        ctx.state.data.setdefault("new_child", {}).update(year=year, month=month)
        await ctx.go(GENDER)
        return True


class GenderStep(Step):
    """Girl, boy, or not said."""

    name = GENDER

    async def prompt(self, ctx: Context) -> None:
        """Ask, with not saying as an equal choice."""
        name = ctx.state.data.get("new_child", {}).get("name", "")
        ctx.say(
            ctx._("Is {name} a girl or a boy?", name=name),
            [
                *(Choice(ctx._(label), f"gender:{g.value}") for g, label in GENDER_LABELS.items()),
                Choice(ctx._("Prefer not to say"), "gender:none"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Keep the answer and ask how the person is related."""
        value = payload.removeprefix("gender:")
        if not payload.startswith("gender:") or value not in {"girl", "boy", "none"}:
            return False
        ctx.state.data.setdefault("new_child", {})["gender"] = None if value == "none" else value
        await ctx.go(RELATION)
        return True


class RelationStep(Step):
    """How the person is related to the child; then the child is saved."""

    name = RELATION

    async def prompt(self, ctx: Context) -> None:
        """Ask how the person is related."""
        name = ctx.state.data.get("new_child", {}).get("name", "")
        ctx.say(
            ctx._("You are {name}'s:", name=name),
            [Choice(ctx._(label), f"rel:{r.value}") for r, label in RELATION_LABELS.items()],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Save the child, with the consent given at the start."""
        value = payload.removeprefix("rel:")
        new = ctx.state.data.get("new_child", {})
        if not payload.startswith("rel:") or value not in {r.value for r in Relationship}:
            return False
        if not {"name", "year", "month"} <= new.keys():
            # A press left over from an earlier, finished or cancelled, addition.
            return False
        child = await children.add_child(
            ctx.uow,
            person_id=ctx.person.id,
            name=new["name"],
            birth_year=int(new["year"]),
            birth_month=int(new["month"]),
            gender=Gender(new["gender"]) if new.get("gender") else None,
            relationship=Relationship(value),
            today=today(),
        )
        ctx.state.data.pop("new_child", None)
        ctx.state.data["child_id"] = child.id
        ctx.read[_SAVED] = child
        ctx.note(ctx._("Saved: {name}.", name=child.name))
        await ctx.go(VIEW)
        return True


class ViewStep(Step):
    """One child, with what can be changed."""

    name = VIEW

    async def prompt(self, ctx: Context) -> None:
        """Show the child's details."""
        child = await _current_child(ctx)
        if child is None:
            await ctx.go(CHILDREN)
            return
        lines = [
            _summary(ctx, child),
            ctx._("Gender: {gender}", gender=ctx._(GENDER_LABELS[child.gender]))
            if child.gender
            else ctx._("Gender: not said"),
            ctx._("Health notes: {notes}", notes=child.health_notes)
            if child.health_notes
            else ctx._("Health notes: none"),
            ctx._("You are: {relation}", relation=ctx._(RELATION_LABELS[child.relationship])),
        ]
        ctx.say(
            "\n".join(lines),
            [
                Choice(ctx._("Change name"), "cv:name"),
                Choice(ctx._("Change birth month"), "cv:birth"),
                Choice(ctx._("Health notes"), "cv:health"),
                Choice(ctx._("Invite the other parent"), "cv:invite"),
                Choice(ctx._("Withdraw consent and remove"), "cv:remove"),
                Choice(ctx._("My children"), CHILDREN),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open the change that was pressed."""
        if payload == CHILDREN:
            await ctx.go(CHILDREN)
            return True
        if payload == "cv:invite":
            child = await _current_child(ctx)
            if child is None:
                return False
            code, _expires = await children.create_invite(ctx.uow, ctx.person.id, child.id)
            ctx.say(
                ctx._(
                    "Ask {name}'s other parent to open FFS Bot, tap My children, then Enter an "
                    "invite code, and type:\n\n{code}\n\nThe code works once, within {days} days.",
                    name=child.name,
                    code=code,
                    days=children.INVITE_LIFETIME.days,
                ),
                [
                    Choice(ctx._("Back"), f"child:{child.id}"),
                    Choice(ctx._("My children"), CHILDREN),
                ],
            )
            ctx.state.step = CHILDREN
            return True
        target = {
            "cv:name": RENAME,
            "cv:birth": REBIRTH,
            "cv:health": HEALTH_NOTICE,
            "cv:remove": REMOVE,
        }.get(payload)
        if target is None or await _current_child(ctx) is None:
            return False
        await ctx.go(target)
        return True


class EditChildStep(Step):
    """A new value for one of the current child's details, typed; then back to the child."""

    async def prompt(self, ctx: Context) -> None:
        """Ask for the new value."""
        ctx.ask(self.question(ctx), [cancel_choice(ctx)])

    def question(self, ctx: Context) -> str:
        """What to ask."""
        raise NotImplementedError

    async def save(self, ctx: Context, child_id: int, text: str) -> None:
        """Store the value; raise InvalidInput when it breaks a rule."""
        raise NotImplementedError

    def problem(self, ctx: Context, error: InvalidInput, text: str) -> str:
        """Say in one line what was wrong with `text`, with an example."""
        raise NotImplementedError

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Store the value and show the child again."""
        try:
            await self.save(ctx, int(ctx.state.data.get("child_id", 0)), text)
        except InvalidInput as error:
            ctx.retry(self.problem(ctx, error, text))
            return True
        except NotFound:
            await ctx.go(CHILDREN)
            return True
        ctx.note(ctx._("Saved."))
        await ctx.go(VIEW)
        return True


class RenameStep(EditChildStep):
    """A new name for the child."""

    name = RENAME

    def question(self, ctx: Context) -> str:
        """Ask for the new name."""
        return ctx._(
            "What do you call your child? (up to {limit} characters)", limit=MAX_DISPLAY_NAME
        )

    async def save(self, ctx: Context, child_id: int, text: str) -> None:
        """Store the new name."""
        name = account.read_name(ctx, text)
        await children.rename_child(ctx.uow, ctx.person.id, child_id, name)

    def problem(self, ctx: Context, error: InvalidInput, text: str) -> str:
        """Say what was wrong with the name."""
        return str(error) if isinstance(error, account.NameRefused) else account.name_problem(ctx)


class RebirthStep(EditChildStep):
    """A corrected birth month."""

    name = REBIRTH

    def question(self, ctx: Context) -> str:
        """Ask for the birth month."""
        return ctx._("Type the year and month of birth, for example 2018-03 or 2018年3月.")

    async def save(self, ctx: Context, child_id: int, text: str) -> None:
        """Store the corrected month."""
        year, month = answers.parse_month(text, today())
        await children.set_birth_month(ctx.uow, ctx.person.id, child_id, year, month, today())

    def problem(self, ctx: Context, error: InvalidInput, text: str) -> str:
        """Say what went wrong with the month."""
        return _birth_problem(ctx, str(error), text)


class HealthNoticeStep(Step):
    """The separate consent before any health note is kept."""

    name = HEALTH_NOTICE

    async def prompt(self, ctx: Context) -> None:
        """Explain health notes and ask for the second consent."""
        child = await _current_child(ctx)
        if child is None:
            await ctx.go(CHILDREN)
            return
        choices = [
            Choice(ctx._("I agree"), "health:yes"),
            Choice(ctx._("No"), "health:no"),
        ]
        if child.health_notes:
            choices.insert(1, Choice(ctx._("Erase the notes"), "health:erase"))
        ctx.say(
            ctx._(
                "Health notes are optional. Tell us about allergies or health needs only if "
                "the people caring for {name} should know. Only your factory's coordinator "
                "and the programme's staff see them, and you can erase them at any time.\n\n"
                "Do you agree to us keeping health notes for {name}?",
                name=child.name,
            ),
            choices,
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask for the notes, erase them, or go back."""
        child_id = int(ctx.state.data.get("child_id", 0))
        if payload == "health:yes":
            await ctx.go(HEALTH)
        elif payload == "health:no":
            await ctx.go(VIEW)
        elif payload == "health:erase":
            try:
                await children.set_health_notes(ctx.uow, ctx.person.id, child_id, None)
            except NotFound:
                return False  # not (or no longer) the person's child
            ctx.note(ctx._("The health notes were erased."))
            await ctx.go(VIEW)
        else:
            return False
        return True


class HealthStep(EditChildStep):
    """The health or allergy notes themselves."""

    name = HEALTH

    def question(self, ctx: Context) -> str:
        """Ask for the notes."""
        return ctx._(
            "Type the health or allergy notes (up to {limit} characters).",
            limit=children.MAX_HEALTH_NOTES,
        )

    async def save(self, ctx: Context, child_id: int, text: str) -> None:
        """Store the notes with the consent just given."""
        await children.set_health_notes(ctx.uow, ctx.person.id, child_id, text)

    def problem(self, ctx: Context, error: InvalidInput, text: str) -> str:
        """Say how long notes may be."""
        return ctx._(
            "Please keep the notes under {limit} characters.", limit=children.MAX_HEALTH_NOTES
        )


class RemoveStep(Step):
    """Confirm before a child is removed."""

    name = REMOVE

    async def prompt(self, ctx: Context) -> None:
        """Ask to confirm, saying whether the data will be erased."""
        child = await _current_child(ctx)
        if child is None:
            await ctx.go(CHILDREN)
            return
        text = (
            ctx._(
                "Withdraw your consent for {name}? All of {name}'s information will be "
                "erased, and any place {name} has in a summer space still to come is "
                "cancelled.",
                name=child.name,
            )
            if child.guardians <= 1
            else ctx._(
                "Withdraw your consent for {name} and remove {name} from your list? The "
                "other guardian keeps {name}'s information.",
                name=child.name,
            )
        )
        ctx.say(
            text,
            [Choice(ctx._("Yes, remove"), "rm:yes"), Choice(ctx._("No, keep"), "rm:no")],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Remove the child, or go back."""
        if payload == "rm:no":
            await ctx.go(VIEW)
            return True
        if payload != "rm:yes":
            return False
        try:
            await erasure.remove_child(
                ctx.uow,
                ctx.notify,
                ctx.person.id,
                int(ctx.state.data.get("child_id", 0)),
                datetime.now(UTC),
            )
        except NotFound:
            return False
        ctx.note(ctx._("Removed."))
        await ctx.go(CHILDREN)
        return True


def steps() -> list[Step]:
    """Return the children feature's steps."""
    return [
        ChildrenStep(),
        NoticeStep(),
        NameStep(),
        BirthStep(),
        GenderStep(),
        RelationStep(),
        ViewStep(),
        RenameStep(),
        RebirthStep(),
        HealthNoticeStep(),
        HealthStep(),
        RemoveStep(),
    ]
