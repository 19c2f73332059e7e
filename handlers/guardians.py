"""Joining a child as its second guardian, with the one-time code the other parent got."""

from __future__ import annotations

from ffs_bot.errors import InvalidInput
from ffs_bot.messages import Choice
from ffs_bot.model import Relationship
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

__all__ = ["start_join", "steps"]

JOIN_NOTICE = "child.join_notice"
JOIN_RELATION = "child.join_relation"


def _invite_problem(ctx: Context, problem: str) -> str:
    if problem == "already":
        return ctx._("You are already a guardian of this child.")
    return ctx._(
        "That code does not work. It may be mistyped, used already, or more than {days} days "
        "old. Ask the other parent for a new one.",
        days=children.INVITE_LIFETIME.days,
    )


async def start_join(ctx: Context, code: str) -> None:
    """Go on with an invite code from a link: the notice, then the relationship."""
    try:
        name = await children.invited_child_name(ctx.uow, ctx.person.id, code)
    except InvalidInput as problem:
        ctx.note(_invite_problem(ctx, str(problem)))
        await ctx.go(CHILDREN)
        return
    ctx.state.data["invite"] = {"code": code, "name": name}
    await ctx.go(JOIN_NOTICE)


class JoinStep(Step):
    """An invite code typed by the second guardian."""

    name = JOIN

    async def prompt(self, ctx: Context) -> None:
        """Ask for the code."""
        ctx.say(ctx._("Type the invite code the other parent gave you."), [cancel_choice(ctx)])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the code and show the notice."""
        try:
            name = await children.invited_child_name(ctx.uow, ctx.person.id, text)
        except InvalidInput as problem:
            ctx.note(_invite_problem(ctx, str(problem)))
            await ctx.reprompt()
            return True
        ctx.state.data["invite"] = {"code": text, "name": name}
        await ctx.go(JOIN_NOTICE)
        return True


class JoinNoticeStep(Step):
    """The child's data notice and the second guardian's own consent."""

    name = JOIN_NOTICE

    async def prompt(self, ctx: Context) -> None:
        """Say whose guardian the person becomes, with the notice."""
        name = ctx.state.data.get("invite", {}).get("name", "")
        ctx.say(
            ctx._("You are joining as a guardian of {name}.", name=name)
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
        name = ctx.state.data.get("invite", {}).get("name", "")
        ctx.say(
            ctx._("You are {name}'s:", name=name),
            [Choice(ctx._(label), f"jrel:{r.value}") for r, label in RELATION_LABELS.items()],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Join the child with the consent just given."""
        value = payload.removeprefix("jrel:")
        invite = ctx.state.data.get("invite")
        if not payload.startswith("jrel:") or value not in {r.value for r in Relationship}:
            return False
        if not invite:
            return False
        try:
            child = await children.join_child(
                ctx.uow, ctx.person.id, invite["code"], Relationship(value)
            )
        except InvalidInput as problem:
            ctx.state.data.pop("invite", None)
            ctx.note(_invite_problem(ctx, str(problem)))
            await ctx.go(CHILDREN)
            return True
        ctx.state.data.pop("invite", None)
        ctx.state.data["child_id"] = child.id
        ctx.note(ctx._("You are now a guardian of {name}.", name=child.name))
        await ctx.go(VIEW)
        return True


def steps() -> list[Step]:
    """Return the joining steps."""
    return [JoinStep(), JoinNoticeStep(), JoinRelationStep()]
