"""The main menu, help, and cancelling whatever is under way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ffs_bot.i18n import N_
from ffs_bot.messages import Choice
from ffs_bot.privacy import renewal_due
from ffs_bot.services.staff import has_role, staff_scope
from handlers import onboarding, privacy
from handlers.context import Context
from handlers.router import Step
from handlers.text import match_choice

__all__ = [
    "JUMP_PREFIX",
    "MAIN",
    "NOT_TYPED",
    "SECTIONS",
    "TYPED_DRAFTS",
    "cancel",
    "help_text",
    "jump",
    "main_menu_choice",
    "open_menu",
    "section_named",
    "steps",
    "typed_work",
]

MAIN = "main"
STAFF = "staff"  # the coordinator's part, handlers.coordinator (which imports this module)
WORKSHOPS = "ws"  # parent workshops, handlers.workshops (which imports this module too)
TIPS = "tips"  # parenting tips, handlers.tips
REPORT = "report"  # the programme report, handlers.reports
MENU_PAYLOAD = "menu"
# A channel's own persistent menu (WeChat's custom menu) sends `go:<section>` from any step.
JUMP_PREFIX = "go:"
# The sections everyone has, by name on the main menu; typed anywhere, a name opens its part.
_SECTION_NAMES = {
    "summer": N_("Summer space"),
    WORKSHOPS: N_("Parent workshops"),
    TIPS: N_("Parenting tips"),
    "children": N_("My children"),
    "account": N_("My details"),
}
SECTIONS = tuple(_SECTION_NAMES)


def main_menu_choice(ctx: Context) -> Choice:
    """A button back to the main menu."""
    return Choice(ctx._("Main menu"), MENU_PAYLOAD)


async def open_menu(ctx: Context, *, leaving: bool = False) -> None:
    """Show the main menu, or finish signing up (or agree to a changed notice) first.

    `leaving`: the person asked for the menu (typed `menu`, or a channel's menu button) from
    wherever they were, and is told when that dropped something they had typed.
    """
    if renewal_due(ctx.person):
        await privacy.ask_renewal(ctx)
        return
    if not ctx.person.onboarded:
        if ctx.state.step:
            ctx.note(ctx._("Let's finish signing up first."))
        await onboarding.continue_onboarding(ctx)
        return
    if leaving:
        _say_if_dropped(ctx)
    ctx.state.data.clear()
    await ctx.go(MAIN)


async def jump(ctx: Context, payload: str) -> None:
    """Open a section of the menu from wherever the person is, as `menu` would."""
    section = payload.removeprefix(JUMP_PREFIX)
    if not ctx.person.onboarded or section not in SECTIONS:
        await open_menu(ctx, leaving=True)
        return
    if ctx.state.step != section:
        _say_if_dropped(ctx)
    ctx.state.data.clear()
    await ctx.go(section)


def _say_if_dropped(ctx: Context) -> None:
    # Said only when leaving loses something typed: after a child is saved, or from a list
    # of buttons, there is nothing to lose and the line would only worry.
    if typed_work(ctx.state.data):
        ctx.note(ctx._("Left what you were doing; nothing unfinished was saved."))


def typed_work(data: Mapping[str, Any]) -> bool:
    """Whether the conversation holds something typed that no step has saved yet."""
    return any(typed(data[key]) for key, typed in TYPED_DRAFTS.items() if key in data)


def _typed_values(form: Any) -> bool:
    # A season's form: the factory was chosen by a tap; the values were typed.
    return isinstance(form, dict) and bool(form.get("values"))


def _typed_plan(plan: Any) -> bool:
    # A workshop's plan: the factory is tapped or given, "edit" names the field being
    # changed; any other key is an answer typed for a workshop not planned yet.
    return isinstance(plan, dict) and bool(set(plan) - {"factory", "edit"})


# What leaving drops that the person typed: a child being added (name, birth month), a
# season's or a workshop's form, a broadcast's texts, an account a role is being given to, an
# invite code waiting for the notice to be read. Each key a step keeps in the conversation's
# data is named here or in NOT_TYPED (tests/unit/test_drafts.py reads the handlers for them).
TYPED_DRAFTS: dict[str, Callable[[Any], bool]] = {
    "new_child": bool,
    "form": _typed_values,
    "plan": _typed_plan,
    "bc_zh": bool,
    "bc_en": bool,
    "grant": bool,
    "invite": bool,
}
# Chosen by a tap, and chosen again in a tap (a season, a child, a week, a workshop, the
# record a yes/no is about, a broadcast's audience, a factory from a QR code), or kept for the
# engine; a decline's reason is saved in the message it is typed in.
NOT_TYPED = frozenset(
    {
        "bad_code",
        "bc_audience",
        "booking",
        "change_registration",
        "child_id",
        "decline",
        "decline_from",
        "factory_id",
        "first_week",
        "helplines_held",
        "pending_invite",
        "rated",
        "registration_id",
        "renewal_refused",
        "return_to",
        "season_id",
        "staff_season",
        "staff_workshop",
        "switch_to",
        "tips_often",
        "workshop",
    }
)


def section_named(ctx: Context, text: str) -> str | None:
    """The menu section whose name was typed, in either language ("暑期托管", "My children")."""
    names = [
        {"label": t._(msgid), "payload": section, "by": "label"}
        for t in ctx.translators.values()
        for section, msgid in _SECTION_NAMES.items()
    ]
    return match_choice(names, text)


def help_text(ctx: Context) -> str:
    """Explain the words that work everywhere."""
    return ctx._(
        "You can send these words at any time:\n"
        "• menu: the main menu\n"
        "• language: 中文 or English\n"
        "• cancel: stop what you are doing\n"
        "• help: this message\n"
        "• the name of a part of the menu, such as Parenting tips: opens it\n"
        "Or tap a button."
    )


async def cancel(ctx: Context) -> None:
    """Leave what is under way without saving it."""
    step = ctx.state.step
    if not ctx.person.onboarded:
        ctx.state.data.clear()
        ctx.state.step = ""
        ctx.say(ctx._("Stopped. Send any message when you want to start again."))
    elif step == MAIN:
        ctx.note(ctx._("There is nothing to cancel."))
        await open_menu(ctx)
    else:
        ctx.note(ctx._("Cancelled. Nothing was changed."))
        await open_menu(ctx)


class MainMenuStep(Step):
    """What an onboarded person can do."""

    name = MAIN

    async def prompt(self, ctx: Context) -> None:
        """Show the menu's buttons; staff also see the way to the seasons they run."""
        buttons = [
            *(Choice(ctx._(msgid), section) for section, msgid in _SECTION_NAMES.items()),
            Choice(ctx.both(N_("Language")), "language"),
            Choice(ctx._("Help"), "help"),
        ]
        if await _runs_a_factory(ctx):
            buttons.insert(5, Choice(ctx._("Staff menu"), STAFF))
        if await has_role(ctx.uow, ctx.person.id):
            buttons.insert(-2, Choice(ctx._("Programme report"), REPORT))
        ctx.say(
            ctx._("{name}, what would you like to do?", name=ctx.person.display_name or ""),
            buttons,
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open the part of the menu that was pressed."""
        if (
            payload in SECTIONS
            or (payload == STAFF and await _runs_a_factory(ctx))
            or (payload == REPORT and await has_role(ctx.uow, ctx.person.id))
        ):
            await ctx.go(payload)
            return True
        return False


async def _runs_a_factory(ctx: Context) -> bool:
    return (await staff_scope(ctx.uow, ctx.person.id)).is_staff


def steps() -> list[Step]:
    """Return the main menu's steps."""
    return [MainMenuStep()]
