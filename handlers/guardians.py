"""Joining a child as its second guardian, with the one-time code the other parent got.

Nothing about the child is shown until the code is accepted, the notice agreed to and the
person joined: a code typed by someone it was not meant for tells them nothing.
"""

from __future__ import annotations

from ffs_bot.errors import ConflictError, InvalidInput, NotFound, TooManyTries
from ffs_bot.messages import Choice
from ffs_bot.model import Relationship
from ffs_bot.notices import UNDO_JOIN_PREFIX
from ffs_bot.services import children
from handlers.children import (
    CHILDREN,
    JOIN,
    RELATION_LABELS,
    VIEW,
    cancel_choice,
    child_notice,
)
from handlers.context import Context
from handlers.router import Step

__all__ = ["global_press", "start_join", "steps"]

JOIN_NOTICE = "child.join_notice"
JOIN_RELATION = "child.join_relation"


async def _invite_problem(ctx: Context, problem: Exception) -> str:
    if isinstance(problem, TooManyTries):
        return ctx._(
            "Too many wrong codes. For safety, please try again after {time}.",
            time=ctx.t.weekday_moment(problem.until, await ctx.zone()),
        )
    if str(problem) == "already":
        return ctx._("You are already a guardian of this child.")
    return ctx._(
        "That code does not work. It may be mistyped, used already, or more than {days} days "
        "old. Ask the other parent for a new one.",
        days=children.INVITE_LIFETIME.days,
    )


async def _check(ctx: Context, code: str, *, retry: bool) -> None:
    """Check the code and show the notice; or say what is wrong, and ask again if `retry`."""
    try:
        ticket = await children.check_invite(ctx.uow, ctx.notify, ctx.person.id, code)
    except TooManyTries as problem:
        # Asking for a code that would not be checked would only waste their typing.
        ctx.note(await _invite_problem(ctx, problem))
        await ctx.go(CHILDREN)
        return
    except InvalidInput as problem:
        if retry:
            ctx.retry(await _invite_problem(ctx, problem))
        else:
            ctx.note(await _invite_problem(ctx, problem))
            await ctx.go(CHILDREN)
        return
    ctx.state.data["invite"] = {"ticket": ticket}
    await ctx.go(JOIN_NOTICE)


async def start_join(ctx: Context, code: str) -> None:
    """Go on with an invite code from a link: the notice, then the relationship."""
    await _check(ctx, code, retry=False)


class JoinStep(Step):
    """An invite code typed by the second guardian."""

    name = JOIN

    async def prompt(self, ctx: Context) -> None:
        """Ask for the code."""
        ctx.ask(ctx._("Type the invite code the other parent gave you."), [cancel_choice(ctx)])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the code and show the notice."""
        await _check(ctx, text, retry=True)
        return True


class JoinNoticeStep(Step):
    """The child's data notice and the second guardian's own consent."""

    name = JOIN_NOTICE

    async def prompt(self, ctx: Context) -> None:
        """Say the code is right and ask for consent, naming no child yet."""
        ctx.say(
            ctx._("The code is right. Before you join as the child's guardian:")
            + "\n\n"
            + child_notice(ctx),
            [Choice(ctx._("I agree"), "joinnotice:yes"), Choice(ctx._("No"), "joinnotice:no")],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Ask how the person is related, or leave nothing."""
        if payload == "joinnotice:yes" and "invite" in ctx.state.data:
            await ctx.go(JOIN_RELATION)
        elif payload == "joinnotice:no":
            ctx.state.data.pop("invite", None)
            ctx.note(ctx._("OK. Nothing about your child was saved."))
            await ctx.go(CHILDREN)
        else:
            return False
        return True


class JoinRelationStep(Step):
    """How the second guardian is related; then they join."""

    name = JOIN_RELATION

    async def prompt(self, ctx: Context) -> None:
        """Ask how the person is related."""
        ctx.say(
            ctx._("You are the child's:"),
            [Choice(ctx._(label), f"jrel:{r.value}") for r, label in RELATION_LABELS.items()],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Join the child with the consent just given."""
        value = payload.removeprefix("jrel:")
        invite = ctx.state.data.get("invite")
        if not payload.startswith("jrel:") or value not in {r.value for r in Relationship}:
            return False
        if not invite or "ticket" not in invite:
            return False
        ctx.state.data.pop("invite", None)
        try:
            child = await children.join_child(
                ctx.uow, ctx.notify, ctx.person.id, invite["ticket"], Relationship(value)
            )
        except (InvalidInput, TooManyTries) as problem:
            ctx.note(await _invite_problem(ctx, problem))
            await ctx.go(CHILDREN)
            return True
        ctx.state.data["child_id"] = child.id
        ctx.note(ctx._("You are now a guardian of {name}.", name=child.name))
        await ctx.go(VIEW)
        return True


async def global_press(ctx: Context, payload: str) -> bool:
    """Undo a join with the person's invite code from the push's button, from any step."""
    number = payload.removeprefix(UNDO_JOIN_PREFIX)
    if not payload.startswith(UNDO_JOIN_PREFIX) or not number.isdecimal():
        return False
    try:
        undone = await children.undo_join(ctx.uow, ctx.notify, ctx.person.id, int(number))
    except NotFound:
        return False
    except ConflictError:
        ctx.say_brief(
            ctx._("Nothing to undo: that person is no longer a guardian through your code.")
        )
        return True
    ctx.say_brief(
        ctx._(
            "Done. {person} is no longer a guardian of {name}. To invite the other parent, "
            "make a new code.",
            person=undone.guardian_name,
            name=undone.child_name,
        )
    )
    return True


def steps() -> list[Step]:
    """Return the joining steps."""
    return [JoinStep(), JoinNoticeStep(), JoinRelationStep()]
