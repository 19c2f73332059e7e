"""My details: see and change the name and factory we know a person by; my data, too."""

from __future__ import annotations

from ffs_bot.errors import InvalidInput
from ffs_bot.i18n import LANGUAGE_NAMES
from ffs_bot.messages import Choice
from ffs_bot.model import Factory
from ffs_bot.services import people
from ffs_bot.services.factories import get_factory
from handlers import menu, privacy
from handlers.context import Context
from handlers.factory_search import FactorySearchStep, factory_label
from handlers.router import Step

__all__ = ["NameRefused", "name_problem", "offer_factory_switch", "read_name", "steps"]

ACCOUNT = "account"
NAME = "account.name"
FACTORY = "account.factory"
SWITCH = "account.switch"


class NameRefused(InvalidInput):
    """A typed name that is not one; its message is the line that says why, translated."""


def name_problem(ctx: Context) -> str:
    """Say what a name may contain, with an example."""
    return ctx._(
        "Please type a name in letters or Chinese characters (up to {limit}), for example "
        "小明 or Ah Ming.",
        limit=people.MAX_DISPLAY_NAME,
    )


def read_name(ctx: Context, text: str) -> str:
    """The name typed, tidied.

    Raises:
        NameRefused: not a name; or the name of a part of the menu, typed by someone who
            meant to go there (names are text: typed words never leave a name's question).
    """
    try:
        name = people.clean_display_name(text)
    except InvalidInput:
        raise NameRefused(name_problem(ctx)) from None
    if menu.section_named(ctx, name) is not None:
        raise NameRefused(
            ctx._(
                "“{words}” is a part of the menu, not a name. To go there, send menu first; "
                "or type the name, for example 小明.",
                words=name,
            )
        )
    return name


def _cancel_choice(ctx: Context) -> list[Choice]:
    return [Choice(ctx._("Cancel"), "cancel")]


class AccountStep(Step):
    """The person's details, with buttons to change them."""

    name = ACCOUNT

    async def prompt(self, ctx: Context) -> None:
        """Show name, factory and language."""
        factory = (
            await get_factory(ctx.uow, ctx.person.factory_id) if ctx.person.factory_id else None
        )
        ctx.say(
            ctx._(
                "Your details\nName: {name}\nFactory: {factory}\nLanguage: {language}",
                name=ctx.person.display_name or "",
                factory=factory_label(ctx, factory) if factory else "",
                language=LANGUAGE_NAMES[ctx.language],
            ),
            [
                Choice(ctx._("Change my name"), "account:name"),
                Choice(ctx._("Change my factory"), "account:factory"),
                Choice(ctx._("My data and privacy"), "account:data"),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open the change that was pressed."""
        if payload == "account:name":
            await ctx.go(NAME)
        elif payload == "account:factory":
            await ctx.go(FACTORY)
        elif payload == "account:data":
            await ctx.go(privacy.MY_DATA)
        else:
            return False
        return True


class ChangeNameStep(Step):
    """A new name to be called by."""

    name = NAME

    async def prompt(self, ctx: Context) -> None:
        """Ask for the new name."""
        ctx.ask(
            ctx._(
                "What should we call you? (up to {limit} characters)",
                limit=people.MAX_DISPLAY_NAME,
            ),
            _cancel_choice(ctx),
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Store the new name."""
        try:
            name = read_name(ctx, text)
        except InvalidInput as problem:
            ctx.retry(str(problem))
            return True
        ctx.person = await people.set_display_name(ctx.uow, ctx.person.id, name)
        ctx.note(ctx._("Saved."))
        await ctx.go(ACCOUNT)
        return True


async def _factory_changed(ctx: Context, factory: Factory) -> None:
    ctx.person = await people.set_factory(ctx.uow, ctx.person.id, factory.id)
    ctx.note(ctx._("Saved. Your factory is now {factory}.", factory=factory_label(ctx, factory)))
    await ctx.go(ACCOUNT)


async def offer_factory_switch(ctx: Context, factory: Factory) -> None:
    """Ask before moving a person to the factory a QR code or link named."""
    ctx.state.data["switch_to"] = factory.id
    await ctx.go(SWITCH)


class SwitchFactoryStep(Step):
    """Confirm a move to the factory from a QR code or link."""

    name = SWITCH

    async def prompt(self, ctx: Context) -> None:
        """Ask whether to switch."""
        factory = await get_factory(ctx.uow, int(ctx.state.data.get("switch_to", 0)))
        if factory is None:
            await menu.open_menu(ctx)
            return
        ctx.say(
            ctx._(
                "This code is for {factory}. Do you work there now?",
                factory=factory_label(ctx, factory),
            ),
            [
                Choice(ctx._("Yes, switch"), "switch:yes"),
                Choice(ctx._("No, keep mine"), "switch:no"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Switch, or keep the current factory."""
        if payload == "switch:yes":
            factory = await get_factory(ctx.uow, int(ctx.state.data.pop("switch_to", 0)))
            if factory is None:
                return False
            await _factory_changed(ctx, factory)
        elif payload == "switch:no":
            ctx.note(ctx._("OK, nothing was changed."))
            await menu.open_menu(ctx)
        else:
            return False
        return True


def steps() -> list[Step]:
    """Return the account's steps."""
    return [
        AccountStep(),
        ChangeNameStep(),
        FactorySearchStep(FACTORY, _factory_changed, _cancel_choice),
        SwitchFactoryStep(),
    ]
