"""Parenting tips: another tip now, tips on a schedule, stop; "was this helpful?"; figures."""

from __future__ import annotations

from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import display_width
from ffs_bot.messages import Choice
from ffs_bot.services import tips
from ffs_bot.services.tips import HOURS, Frequency, TipFigures
from ffs_bot.tips import TOPIC_NAMES
from handlers import answers, menu
from handlers.context import Context
from handlers.payloads import record_id
from handlers.router import Step

__all__ = ["FIGURES", "TIPS", "global_press", "steps"]

TIPS = menu.TIPS
HOW_OFTEN = "tips.often"
WHAT_TIME = "tips.time"
FIGURES = "tips.figures"
SUGGESTED_HOURS = (8, 12, 18, 20)


def _frequency_name(ctx: Context, frequency: Frequency) -> str:
    return {
        Frequency.DAILY: ctx._("every day"),
        Frequency.TWICE_WEEKLY: ctx._("twice a week (Wednesday and Sunday)"),
        Frequency.WEEKLY: ctx._("once a week (Sunday)"),
    }[frequency]


class TipsStep(Step):
    """Where tips stand for the person, and what they can do."""

    name = TIPS

    async def prompt(self, ctx: Context) -> None:
        """Show the subscription and the buttons."""
        found = await tips.get_subscription(ctx.uow, ctx.person.id)
        if found is not None and found.active:
            text = ctx._(
                "You get a parenting tip {how_often} at {hour}:00.",
                how_often=_frequency_name(ctx, found.frequency),
                hour=f"{found.hour:02d}",
            )
            buttons = [
                Choice(ctx._("Another tip now"), "tips:more"),
                Choice(ctx._("Change when"), "tips:setup"),
                Choice(ctx._("Stop tips"), "tips:stop"),
            ]
        else:
            text = ctx._(
                "Short parenting tips for your children's ages, in your language. "
                "Get one now, or choose when they come."
            )
            buttons = [
                Choice(ctx._("A tip now"), "tips:more"),
                Choice(ctx._("Get tips regularly"), "tips:setup"),
            ]
        ctx.say(text, [*buttons, menu.main_menu_choice(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """A tip now, the schedule, or stop."""
        if payload == "tips:more":
            tip = await tips.take_tip(ctx.uow, ctx.t, ctx.person.id)
            if tip is None:
                ctx.note(ctx._("There are no tips yet. Please come back later."))
                await ctx.reprompt()
                return True
            # One message: the tip, its "helpful?" buttons, and the way to the next one; on
            # channels that number choices, those are the numbers that work.
            ctx.say(
                tip.text,
                [
                    *tip.choices,
                    Choice(ctx._("Another tip now"), "tips:more"),
                    menu.main_menu_choice(ctx),
                ],
            )
            return True
        if payload == "tips:setup":
            await ctx.go(HOW_OFTEN)
            return True
        if payload == "tips:stop":
            if not await tips.stop_tips(ctx.uow, ctx.person.id):
                return False  # pressed twice
            ctx.note(ctx._("Tips stopped. You can start them again here at any time."))
            await ctx.reprompt()
            return True
        return False


class HowOftenStep(Step):
    """How often tips come."""

    name = HOW_OFTEN

    async def prompt(self, ctx: Context) -> None:
        """Offer the frequencies."""
        ctx.say(
            ctx._("How often would you like a tip?"),
            [
                *(Choice(_frequency_name(ctx, f), f"tips:often:{f.value}") for f in Frequency),
                Choice(ctx._("Cancel"), "cancel"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Remember the frequency and ask for the time."""
        value = payload.removeprefix("tips:often:")
        if not payload.startswith("tips:often:") or value not in {f.value for f in Frequency}:
            return False
        ctx.state.data["tips_often"] = value
        await ctx.go(WHAT_TIME)
        return True


class WhatTimeStep(Step):
    """The hour of day tips come, local time."""

    name = WHAT_TIME

    async def prompt(self, ctx: Context) -> None:
        """Offer some hours; any from 7 to 21 can be typed."""
        ctx.ask(
            ctx._(
                "At what time? Tap one, or type an hour from {first} to {last}.",
                first=HOURS.start,
                last=HOURS.stop - 1,
            ),
            [
                *(Choice(f"{hour:02d}:00", f"tips:hour:{hour}") for hour in SUGGESTED_HOURS),
                Choice(ctx._("Cancel"), "cancel"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Subscribe at the hour pressed."""
        hour = payload.removeprefix("tips:hour:")
        if not payload.startswith("tips:hour:") or not hour.isdecimal():
            return False
        return await self._subscribe(ctx, int(hour))

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Subscribe at the hour typed (20, 20:00, 晚上8点, 8pm)."""
        try:
            hour: int | None = answers.parse_hour(text)
        except InvalidInput:
            hour = None
        if hour is None or await self._subscribe(ctx, hour) is False:
            ctx.retry(
                ctx._(
                    "Please type an hour from {first} to {last}, for example 20 or 8pm.",
                    first=HOURS.start,
                    last=HOURS.stop - 1,
                )
            )
        return True

    async def _subscribe(self, ctx: Context, hour: int) -> bool:
        often = ctx.state.data.get("tips_often")
        if often not in {f.value for f in Frequency}:
            return False
        try:
            found = await tips.subscribe(ctx.uow, ctx.person.id, Frequency(str(often)), hour)
        except InvalidInput:
            return False
        ctx.state.data.pop("tips_often", None)
        ctx.note(
            ctx._(
                "Done. The first tip comes on {day} at {hour}:00.",
                day=ctx.t.weekday_date(found.next_at, found.timezone),
                hour=f"{hour:02d}",
            )
        )
        await ctx.go(TIPS)
        return True


def _topic_name(ctx: Context, topic: str) -> str:
    msgid = TOPIC_NAMES.get(topic)
    return ctx._(msgid) if msgid else topic


def _opening(ctx: Context, figure: TipFigures) -> str:
    """A tip as staff know it: its first words in their language, not its id."""
    text = (figure.text_en if ctx.language == "en" else figure.text_zh) or figure.key
    words = text.split("\n", 1)[0]
    while display_width(words) > 30:
        words = words[:-2] + "…"
    return words


class FiguresStep(Step):
    """For staff: how often tips were sent and found helpful, per topic and best tips."""

    name = FIGURES

    async def prompt(self, ctx: Context) -> None:
        """Show the figures."""
        try:
            by_tip, by_topic = await tips.tip_figures(ctx.uow, ctx.person.id)
        except Forbidden:
            await menu.open_menu(ctx)
            return
        lines = [ctx._("Tips sent and found helpful, by topic:")]
        for figure in by_topic:
            lines.append(
                ctx._(
                    "• {topic}: sent {sent}, helpful {yes}, not helpful {no}",
                    topic=_topic_name(ctx, figure.key),
                    sent=figure.sent,
                    yes=figure.helpful,
                    no=figure.not_helpful,
                )
            )
        best = sorted(
            (f for f in by_tip if f.helpful), key=lambda f: (-f.helpful, f.not_helpful, f.key)
        )[:5]
        if best:
            lines.append(ctx._("Found most helpful:"))
            lines += [
                ctx._(
                    "• {tip}: helpful to {yes} of {sent}",
                    tip=_opening(ctx, f),
                    yes=f.helpful,
                    sent=f.sent,
                )
                for f in best
            ]
        ctx.say("\n".join(lines), [Choice(ctx._("Back"), menu.STAFF)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Back to the staff menu."""
        if payload != menu.STAFF:
            return False
        await ctx.go(menu.STAFF)
        return True


async def global_press(ctx: Context, payload: str) -> bool:
    """Answer the "was this helpful?" buttons of a tip, whatever step the person is at."""
    answer, _, text = payload.removeprefix("tip:").partition(":")
    number = record_id(text)
    if not payload.startswith("tip:") or answer not in ("y", "n") or number is None:
        return False
    try:
        changed = await tips.answer_helpful(ctx.uow, ctx.person.id, number, answer == "y")
    except NotFound:
        return False
    ctx.say_brief(
        ctx._("Thank you for telling us!") if changed else ctx._("You have answered already.")
    )
    return True


def steps() -> list[Step]:
    """Return the tip steps."""
    return [TipsStep(), HowOftenStep(), WhatTimeStep(), FiguresStep()]
