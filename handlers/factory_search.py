"""Finding a factory by its code or part of its name: shared by onboarding and the account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ffs_bot.messages import Choice
from ffs_bot.model import Factory
from ffs_bot.services.factories import get_factory_by_code, search_factories
from handlers.context import Context
from handlers.router import Step

__all__ = ["FACTORY_PAYLOAD", "FactorySearchStep", "factory_label"]

FACTORY_PAYLOAD = "fac:"
MAX_MATCHES = 5


def factory_label(ctx: Context, factory: Factory) -> str:
    """Name a factory in the person's language, with its city when known."""
    name = factory.name(ctx.language)
    return ctx._("{name} ({city})", name=name, city=factory.city) if factory.city else name


class FactorySearchStep(Step):
    """Ask for a factory code or name; offer the matches as buttons."""

    def __init__(
        self,
        name: str,
        on_chosen: Callable[[Context, Factory], Awaitable[None]],
        extra_choices: Callable[[Context], list[Choice]],
    ) -> None:
        self.name = name
        self._on_chosen = on_chosen
        self._extra_choices = extra_choices

    async def prompt(self, ctx: Context) -> None:
        """Ask which factory the person works at."""
        ctx.ask(
            ctx._(
                "Which factory do you work at? Type the factory code from the poster "
                "(like SZ01) or part of the factory's name."
            ),
            self._extra_choices(ctx),
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Take an exact code at once; otherwise show what matches."""
        exact = await get_factory_by_code(ctx.uow, text)
        if exact is not None:
            await self._on_chosen(ctx, exact)
            return True
        matches, total = await search_factories(ctx.uow, text, MAX_MATCHES)
        if not matches:
            ctx.retry(
                ctx._(
                    "No factory matches that. Check the code on the poster (like SZ01), or "
                    "ask your factory's coordinator."
                )
            )
            return True
        choices = [Choice(factory_label(ctx, f), FACTORY_PAYLOAD + f.code) for f in matches]
        if total > len(matches):
            text = ctx.t.ngettext(
                "{n} factory matches. Here are the first {shown}; type more of the name to "
                "narrow it down.",
                "{n} factories match. Here are the first {shown}; type more of the name to "
                "narrow it down.",
                total,
                shown=len(matches),
            )
        else:
            text = ctx._("Is it one of these? Tap yours, or type the name again.")
        ctx.say(text, [*choices, *self._extra_choices(ctx)])
        return True

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Take the factory whose button was pressed."""
        if not payload.startswith(FACTORY_PAYLOAD):
            return False
        factory = await get_factory_by_code(ctx.uow, payload.removeprefix(FACTORY_PAYLOAD))
        if factory is None:
            return False
        await self._on_chosen(ctx, factory)
        return True
