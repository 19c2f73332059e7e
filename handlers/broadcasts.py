"""Staff write to many people at once: the message, the audience, a preview, now or later."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import UTC, datetime

from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.messages import Choice
from ffs_bot.services import broadcasts, season_admin, staff, workshops
from ffs_bot.services.broadcasts import Audience, AudienceKind, Broadcast
from ffs_bot.services.factories import get_factory
from handlers import answers, menu
from handlers.context import Context
from handlers.payloads import payload_id, record_id
from handlers.router import Step

__all__ = ["BROADCAST", "steps"]

BROADCAST = "bc"
WRITE_EN = "bc.en"
WHO = "bc.who"
PREVIEW = "bc.preview"
WHEN = "bc.when"
SENT = "bc.sent"
NONE = ("-", "—", "－")
SHOWN = 6


def _cancel(ctx: Context) -> Choice:
    return Choice(ctx._("Cancel"), "cancel")


class WriteChineseStep(Step):
    """The message in Chinese (or none)."""

    name = BROADCAST
    screened = False

    async def prompt(self, ctx: Context) -> None:
        """Ask for the Chinese text."""
        if not (await staff.staff_scope(ctx.uow, ctx.person.id)).is_staff:
            await menu.open_menu(ctx)
            return
        ctx.ask(
            ctx._(
                "Type the message in Chinese. Send - to write it in English only. "
                "(Up to {limit} characters.)",
                limit=broadcasts.MAX_TEXT,
            ),
            [Choice(ctx._("My broadcasts"), "bc:list"), _cancel(ctx)],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Keep the text and ask for the English."""
        return await _keep(ctx, "bc_zh", text, WRITE_EN)

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Open the list of broadcasts."""
        if payload != "bc:list":
            return False
        await ctx.go(SENT)
        return True


async def _keep(ctx: Context, key: str, text: str, then: str) -> bool:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if len(cleaned) > broadcasts.MAX_TEXT:
        ctx.retry(ctx._("Please keep it under {limit} characters.", limit=broadcasts.MAX_TEXT))
        return True
    ctx.state.data[key] = "" if cleaned in NONE else text.strip()
    await ctx.go(then)
    return True


class WriteEnglishStep(Step):
    """The message in English (or none)."""

    name = WRITE_EN
    screened = False

    async def prompt(self, ctx: Context) -> None:
        """Ask for the English text."""
        ctx.ask(ctx._("Now in English. Send - to send the Chinese to everyone."), [_cancel(ctx)])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Keep it; with no text at all, start again."""
        await _keep(ctx, "bc_en", text, WHO)
        if not ctx.state.data.get("bc_zh") and not ctx.state.data.get("bc_en"):
            ctx.replies.clear()
            ctx.note(ctx._("There is no message to send. Please write it in one language."))
            await ctx.go(BROADCAST)
        return True


class WhoStep(Step):
    """Who gets it: workers at a factory, families in a season, a workshop, everyone."""

    name = WHO

    async def prompt(self, ctx: Context) -> None:
        """Offer the audiences the person may write to."""
        scope = await staff.staff_scope(ctx.uow, ctx.person.id)
        buttons: list[Choice] = []
        for factory_id in sorted(scope.factory_ids)[:SHOWN]:
            factory = await get_factory(ctx.uow, factory_id)
            if factory is not None:
                buttons.append(
                    Choice(
                        ctx._("Workers at {factory}", factory=factory.name(ctx.language)),
                        f"bc:f:{factory_id}",
                    )
                )
        if len(scope.factory_ids) > 1:
            buttons.append(Choice(ctx._("Workers at all my factories"), "bc:f:all"))
        for found in (await season_admin.seasons_for_staff(ctx.uow, ctx.person.id))[:3]:
            season = found.season
            dates = ctx.t.date_range(season.starts_on, season.ends_on, with_year=True)
            buttons.append(
                Choice(
                    ctx._(
                        "Families in the space {factory} {dates}",
                        factory=found.factory_code,
                        dates=dates,
                    ),
                    f"bc:s:{found.season.id}",
                )
            )
        planned = await workshops.workshops_for_staff(ctx.uow, ctx.person.id)
        coming, _ = workshops.split_at_today(planned)
        for workshop in coming[:3]:  # today's too, soonest first
            buttons.append(
                Choice(
                    ctx._("Booked on “{topic}”", topic=workshop.topic),
                    f"bc:w:{workshop.id}",
                )
            )
        if scope.every_factory:
            buttons.append(Choice(ctx._("Everyone"), "bc:all"))
        ctx.say(ctx._("Who should get it?"), [*buttons, _cancel(ctx)])

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Remember the audience and show the preview."""
        scope = await staff.staff_scope(ctx.uow, ctx.person.id)
        kind, _, value = payload.removeprefix("bc:").partition(":")
        if payload == "bc:all":
            audience = Audience(AudienceKind.EVERYONE)
        elif kind == "f" and value == "all":
            audience = Audience(AudienceKind.FACTORIES, tuple(sorted(scope.factory_ids)))
        elif kind in ("f", "s", "w") and (number := record_id(value)) is not None:
            audience = Audience(
                {
                    "f": AudienceKind.FACTORIES,
                    "s": AudienceKind.SEASON,
                    "w": AudienceKind.WORKSHOP,
                }[kind],
                (number,),
            )
        else:
            return False
        try:
            await broadcasts.audience_languages(ctx.uow, ctx.person.id, audience)
        except (Forbidden, NotFound, InvalidInput):
            return False
        ctx.state.data["bc_audience"] = audience.to_json()
        await ctx.go(PREVIEW)
        return True


def _audience(ctx: Context) -> Audience | None:
    data = ctx.state.data.get("bc_audience")
    return Audience.from_json(data) if isinstance(data, dict) else None


class PreviewStep(Step):
    """How many people get it in which language, and the texts; send now or later."""

    name = PREVIEW

    async def prompt(self, ctx: Context) -> None:
        """Show the preview."""
        audience = _audience(ctx)
        if audience is None:
            await ctx.go(BROADCAST)
            return
        counts = await broadcasts.audience_languages(ctx.uow, ctx.person.id, audience)
        text_zh, text_en = ctx.state.data.get("bc_zh", ""), ctx.state.data.get("bc_en", "")
        lines = [
            ctx.t.ngettext(
                "This goes to {n} person:", "This goes to {n} people:", sum(counts.values())
            ),
            ctx._("• in Chinese: {n}", n=counts.get("zh_Hans", 0)),
            ctx._("• in English: {n}", n=counts.get("en", 0)),
        ]
        if not text_zh or not text_en:
            lines.append(ctx._("Everyone gets the one text you wrote."))
        if text_zh:
            lines += ["", "中文：", text_zh]
        if text_en:
            lines += ["", "English:", text_en]
        ctx.say(
            "\n".join(lines),
            [
                Choice(ctx._("Send now"), "bc:now"),
                Choice(ctx._("Send later"), "bc:later"),
                _cancel(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Send now, or ask when."""
        if payload == "bc:later":
            await ctx.go(WHEN)
            return True
        if payload != "bc:now":
            return False
        return await _create(ctx, None)


async def _create(ctx: Context, send_at: datetime | None) -> bool:
    audience = _audience(ctx)
    if audience is None:
        return False
    try:
        made = await broadcasts.create_broadcast(
            ctx.uow,
            ctx.person.id,
            text_zh=str(ctx.state.data.get("bc_zh", "")),
            text_en=str(ctx.state.data.get("bc_en", "")),
            audience=audience,
            send_at=send_at,
        )
    except InvalidInput as problem:
        if str(problem) == "send_at":
            ctx.retry(ctx._("That time has passed. Please type a time to come."))
            return True
        return False
    except (Forbidden, NotFound):
        return False
    for key in ("bc_zh", "bc_en", "bc_audience"):
        ctx.state.data.pop(key, None)
    if send_at is None:
        ctx.note(
            ctx.t.ngettext(
                "Sending to {n} person. You will get a delivery report.",
                "Sending to {n} people. You will get a delivery report.",
                made.recipients,
            )
        )
    else:
        ctx.note(ctx._("Scheduled for {time}.", time=_time(ctx, made.send_at, await ctx.zone())))
    await ctx.go(SENT)
    return True


def _time(ctx: Context, value: datetime, zone: str) -> str:
    return ctx.t.dated_moment(value, zone)


class WhenStep(Step):
    """The local day and time to send a scheduled broadcast."""

    name = WHEN

    async def prompt(self, ctx: Context) -> None:
        """Ask for the time."""
        ctx.ask(ctx._("When? Type the day and time, for example 7/14 18:00."), [_cancel(ctx)])

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Schedule the broadcast."""
        try:
            start = answers.parse_moment(text, datetime.now(UTC), await ctx.zone())
        except InvalidInput as problem:
            if str(problem) == "past":
                ctx.retry(ctx._("That time has passed. Please type a time to come."))
            else:
                ctx.retry(ctx._("Please type a day and time, for example 7/14 18:00."))
            return True
        return await _create(ctx, start)


def _progress_text(
    ctx: Context, found: Broadcast, progress: broadcasts.Progress, zone: str
) -> str:
    status = {
        "scheduled": ctx._("scheduled for {time}", time=_time(ctx, found.send_at, zone)),
        "sending": ctx._("sending"),
        "sent": ctx._("sent"),
        "cancelled": ctx._("cancelled"),
    }.get(found.status, found.status)
    preview = (found.text_zh if ctx.language != "en" else found.text_en) or (
        found.text_en or found.text_zh
    )
    return ctx._(
        "#{id} ({status}): {preview}\n"
        "   people {people} · queued {queued} · sent {sent} · failed {failed} · blocked {blocked}",
        id=found.id,
        status=status,
        preview=preview[:40] + ("…" if len(preview) > 40 else ""),
        people=progress.recipients,
        queued=progress.queued,
        sent=progress.sent,
        failed=progress.failed,
        blocked=progress.blocked,
    )


class SentStep(Step):
    """The person's latest broadcasts with their progress; refresh in place; cancel."""

    name = SENT

    async def prompt(self, ctx: Context) -> None:
        """List them."""
        found = await broadcasts.recent_broadcasts(ctx.uow, ctx.person.id)
        buttons = [Choice(ctx._("Refresh"), "bc:refresh")]
        lines = []
        zone = await ctx.zone()
        for item in found:
            figures = await broadcasts.progress(ctx.uow, ctx.person.id, item.id)
            lines.append(_progress_text(ctx, item, figures, zone))
            if item.status == "scheduled":
                buttons.append(
                    Choice(
                        ctx._("Cancel the one for {time}", time=_time(ctx, item.send_at, zone)),
                        f"bc:cancel:{item.id}",
                    )
                )
        # Delivery is at least once: a restart mid-send repeats the few sends under way.
        honest = ctx._(
            "Everyone gets it once. If the service restarts while sending, the few people "
            "it was sending to at that moment may get it twice. Nobody is missed."
        )
        text = "\n\n".join(["\n".join(lines), honest]) if lines else ctx._("No broadcasts yet.")
        ctx.say(
            text,
            [*buttons, Choice(ctx._("New broadcast"), "bc:new"), menu.main_menu_choice(ctx)],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Refresh the figures in the same message, cancel one, or write a new one."""
        if payload == "bc:refresh":
            await ctx.reprompt()
            last = ctx.replies[-1]
            # Figures change in the message that was pressed, not in a new one.
            ctx.replies[-1] = dataclasses.replace(last, edit=True)
            return True
        if payload == "bc:new":
            await ctx.go(BROADCAST)
            return True
        if (number := payload_id(payload, "bc:cancel:")) is None:
            return False
        try:
            await broadcasts.cancel_broadcast(ctx.uow, ctx.person.id, number)
        except (NotFound, Forbidden, ConflictError):
            return False
        ctx.note(ctx._("Cancelled. Nobody got it."))
        await ctx.reprompt()
        return True


def steps() -> list[Step]:
    """Return the broadcast steps."""
    return [
        WriteChineseStep(),
        WriteEnglishStep(),
        WhoStep(),
        PreviewStep(),
        WhenStep(),
        SentStep(),
    ]
