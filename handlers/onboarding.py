"""First contact: language, factory, privacy notice and consent, name, then the main menu."""

from __future__ import annotations

from ffs_bot.errors import InvalidInput
from ffs_bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_
from ffs_bot.messages import Choice
from ffs_bot.model import Factory
from ffs_bot.services import people
from ffs_bot.services.factories import get_factory, get_factory_by_code
from handlers import account, guardians, menu, privacy
from handlers.context import Context
from handlers.factory_search import FactorySearchStep, factory_label
from handlers.router import Step

__all__ = ["choose_language", "continue_onboarding", "start", "steps"]

LANGUAGE = "language"
FACTORY = "onb.factory"
CONSENT = "onb.consent"
NAME = "onb.name"
LANGUAGE_PAYLOAD = "lang:"
# Other words people type for a language, beyond the button labels.
LANGUAGE_WORDS = {
    "zh_Hans": {"中文", "汉语", "普通话", "简体中文", "chinese", "zh"},
    "en": {"english", "英文", "英语", "en"},
}
FACTORY_CODE_PREFIX = "f-"
INVITE_PREFIX = "c-"


def _factory_code(argument: str) -> str | None:
    """Return the factory code a start payload such as `f-SZ01` carries."""
    if argument[:2].lower() != FACTORY_CODE_PREFIX:
        return None
    return argument[2:].strip() or None


async def start(ctx: Context, argument: str) -> None:
    """Greet a person: pick up where they were, applying a factory from a QR code or link."""
    if argument[:2].lower() == INVITE_PREFIX:
        # An invite link from the other parent: after sign-up, if that is still to do.
        if ctx.person.onboarded:
            await guardians.start_join(ctx, argument[2:])
            return
        ctx.state.data["pending_invite"] = argument[2:]
        await continue_onboarding(ctx)
        return
    code = _factory_code(argument)
    factory = await get_factory_by_code(ctx.uow, code) if code else None
    if ctx.person.onboarded:
        if code and factory is None:
            ctx.note(ctx._("The factory in that link or QR code was not found."))
        if factory is not None and factory.id != ctx.person.factory_id:
            await account.offer_factory_switch(ctx, factory)
            return
        await menu.open_menu(ctx)
        return
    if factory is not None:
        ctx.state.data["factory_id"] = factory.id
    elif code:
        ctx.state.data["bad_code"] = True
    await continue_onboarding(ctx)


async def continue_onboarding(ctx: Context) -> None:
    """Ask the first question a person has not answered yet."""
    if ctx.person.onboarded:
        await menu.open_menu(ctx)
    elif ctx.person.language is None:
        await ctx.go(LANGUAGE)
    elif await people.has_privacy_consent(ctx.uow, ctx.person.id):
        await ctx.go(NAME)
    elif "factory_id" in ctx.state.data:
        await ctx.go(CONSENT)
    else:
        if ctx.state.data.pop("bad_code", False):
            ctx.note(ctx._("The factory in that link or QR code was not found."))
        await ctx.go(FACTORY)


async def choose_language(ctx: Context) -> None:
    """Offer the languages, then come back to where the person was."""
    if ctx.state.step and ctx.state.step != LANGUAGE:
        ctx.state.data["return_to"] = ctx.state.step
    await ctx.go(LANGUAGE)


class LanguageStep(Step):
    """中文 or English; the person's app language comes first."""

    name = LANGUAGE

    async def prompt(self, ctx: Context) -> None:
        """Ask for a language, in both languages."""
        if ctx.person.onboarded or ctx.person.language:
            text = ctx.both(N_("Please choose your language."), "\n")
        else:
            text = ctx.both(
                N_(
                    "Hello! I'm FFS Bot, here for parents at the factory and their children. "
                    "Please choose your language."
                ),
                "\n\n",
            )
        order = [ctx.language, *(lang for lang in LANGUAGES if lang != ctx.language)]
        ctx.say(text, [Choice(LANGUAGE_NAMES[lang], LANGUAGE_PAYLOAD + lang) for lang in order])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Take a language typed as a word."""
        word = text.strip().casefold()
        for language, words in LANGUAGE_WORDS.items():
            if word in words:
                return await self.on_press(ctx, LANGUAGE_PAYLOAD + language)
        return False

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Store the language and go on."""
        language = payload.removeprefix(LANGUAGE_PAYLOAD)
        if not payload.startswith(LANGUAGE_PAYLOAD) or language not in LANGUAGES:
            return False
        ctx.person = await people.set_language(ctx.uow, ctx.person.id, language)
        return_to = ctx.state.data.pop("return_to", None)
        if ctx.person.onboarded:
            ctx.note(ctx._("Done: I'll write to you in English from now on."))
        if return_to and return_to in ctx.router:
            await ctx.go(return_to)
        else:
            await continue_onboarding(ctx)
        return True


async def _factory_chosen(ctx: Context, factory: Factory) -> None:
    ctx.state.data["factory_id"] = factory.id
    await ctx.go(CONSENT)


class ConsentStep(Step):
    """The privacy notice, and agreement before anything personal is kept."""

    name = CONSENT

    async def prompt(self, ctx: Context) -> None:
        """Show the notice for the chosen factory and ask for agreement."""
        factory = await get_factory(ctx.uow, int(ctx.state.data.get("factory_id", 0)))
        if factory is None:
            ctx.state.data.pop("factory_id", None)
            await ctx.go(FACTORY)
            return
        ctx.say(
            "\n\n".join(
                [
                    ctx._("Factory: {factory}", factory=factory_label(ctx, factory)),
                    privacy.notice_text(ctx),
                    ctx._("Do you agree?"),
                ]
            ),
            [
                Choice(ctx._("I agree"), "consent:yes"),
                Choice(ctx._("No, thanks"), "consent:no"),
                Choice(ctx._("Change factory"), "consent:factory"),
            ],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Take a typed yes or no."""
        word = text.strip().casefold()
        if word in privacy.YES_WORDS:
            return await self.on_press(ctx, "consent:yes")
        if word in privacy.NO_WORDS:
            return await self.on_press(ctx, "consent:no")
        # The notice is just above: a line on how to answer, not the whole notice again.
        ctx.retry(ctx._("Please tap “I agree” or “No, thanks” below, or type yes or no."))
        return True

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Record the answer: agreement goes on to the name, refusal keeps nothing else."""
        if payload == "consent:yes":
            factory_id = int(ctx.state.data.pop("factory_id"))
            ctx.person = await people.grant_privacy(ctx.uow, ctx.person.id, factory_id)
            ctx.note(ctx._("Thank you!"))
            await ctx.go(NAME)
        elif payload == "consent:no":
            ctx.say(
                ctx._(
                    "No problem. We have not kept your details. If you change your mind, "
                    "send any message to start again."
                )
            )
            await people.decline_privacy(ctx.uow, ctx.person.id)
            ctx.state.data.clear()
            ctx.state.step = ""
        elif payload == "consent:factory":
            ctx.state.data.pop("factory_id", None)
            await ctx.go(FACTORY)
        else:
            return False
        return True


class NameStep(Step):
    """What the person wants to be called."""

    name = NAME

    async def prompt(self, ctx: Context) -> None:
        """Ask for a name."""
        ctx.ask(
            ctx._(
                "What should we call you? For example: 李姐 or Ah Ming "
                "(up to {limit} characters).",
                limit=people.MAX_DISPLAY_NAME,
            )
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Store the name and finish onboarding."""
        try:
            name = account.read_name(ctx, text)
        except InvalidInput as problem:
            ctx.retry(str(problem))
            return True
        ctx.person = await people.complete_onboarding(ctx.uow, ctx.person.id, name)
        ctx.note(ctx._("Welcome, {name}! You're all set.", name=ctx.person.display_name))
        if invite := ctx.state.data.pop("pending_invite", None):
            await guardians.start_join(ctx, str(invite))
            return True
        await menu.open_menu(ctx)
        return True


def steps() -> list[Step]:
    """Return onboarding's steps."""
    return [
        LanguageStep(),
        FactorySearchStep(FACTORY, _factory_chosen, lambda ctx: []),
        ConsentStep(),
        NameStep(),
    ]
