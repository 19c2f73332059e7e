"""The privacy notice, asking again when it changes, and my data: see it, take it, erase it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ffs_bot.i18n import LANGUAGE_NAMES, N_
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.privacy import PRIVACY_NOTICE_VERSION
from ffs_bot.services import erasure, my_data, people
from handlers import menu
from handlers.context import Context
from handlers.router import Step

__all__ = [
    "FORGET",
    "MY_DATA",
    "NO_WORDS",
    "REFUSED",
    "RENEW",
    "RENEWAL_STEPS",
    "YES_WORDS",
    "ask_renewal",
    "notice_text",
    "steps",
]

RENEW = "privacy.renew"
MY_DATA = "privacy.data"
FORGET = "privacy.forget"
# While a new notice waits for an answer, these steps alone take messages.
RENEWAL_STEPS = frozenset({RENEW, FORGET})
ACCOUNT = "account"  # my details, handlers.account (which imports this module)
RENEW_LANGUAGE = "renew:lang:"
# Set when the person said no to the new notice: their next message brings the notice back.
REFUSED = "renewal_refused"
# Typed answers to a notice, beside its buttons.
YES_WORDS = frozenset({"yes", "y", "agree", "同意", "是", "好", "好的"})
NO_WORDS = frozenset({"no", "n", "不", "不同意", "否"})


def notice_text(ctx: Context) -> str:
    """The privacy notice in the person's language, with its version and how long we keep data."""
    return ctx._(
        "Privacy notice (version {version})\n"
        "• What we keep: the name you give us, your factory, your language, your chat "
        "account, your messages to this bot, your workshop bookings, and your children's "
        "names, birth months and (only if you agree separately) health notes.\n"
        "• Why: to arrange Family-Friendly Spaces, parent training and parenting tips for "
        "your family.\n"
        "• Who sees it: the programme's staff and your factory's coordinator. Sponsors see "
        "only counts, never names. We never sell it.\n"
        "• Where: in the programme's database, on servers in mainland China.\n"
        "• How long: your children's details are erased {days} days after their last summer "
        "space ends, unless you register them again. Your own details stay until you ask us "
        "to forget you.\n"
        "• Your choice: under My details you can see everything we keep, download it, correct "
        "it, or erase it all. Under My children you can withdraw consent for a child.",
        version=PRIVACY_NOTICE_VERSION,
        days=ctx.retention_days,
    )


async def ask_renewal(ctx: Context) -> None:
    """Show the new notice before anything else; what was under way is left."""
    ctx.state.data.clear()
    await ctx.go(RENEW)


class RenewStep(Step):
    """The privacy notice changed since the person agreed: agree again, or not."""

    name = RENEW

    async def prompt(self, ctx: Context) -> None:
        """Show the new notice and ask for agreement."""
        other = ctx.other_language()
        ctx.say(
            "\n\n".join(
                [
                    ctx._("Our privacy notice has changed. Please read it before we go on."),
                    notice_text(ctx),
                    ctx._("Do you agree?"),
                ]
            ),
            [
                Choice(ctx._("I agree"), "renew:yes"),
                Choice(ctx._("No, thanks"), "renew:no"),
                Choice(LANGUAGE_NAMES[other], RENEW_LANGUAGE + other),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Agree and go on, or say what not agreeing means; or read it in the other language."""
        if payload == "renew:yes":
            ctx.person = await people.grant_privacy(ctx.uow, ctx.person.id)
            ctx.note(ctx._("Thank you!"))
            await menu.open_menu(ctx)
        elif payload == "renew:no":
            await people.refuse_renewal(ctx.uow, ctx.person.id)
            # As the answer says: the notice itself is asked again at the next message.
            ctx.state.data[REFUSED] = True
            ctx.say(
                ctx._(
                    "Without your agreement we cannot go on serving you, so nothing else "
                    "works for now; we will ask again at your next message. If you would "
                    "rather we forget you, we can erase everything we keep about you and "
                    "your children."
                ),
                [
                    Choice(ctx._("I agree after all"), "renew:yes"),
                    Choice(ctx._("Erase everything"), "data:forget"),
                ],
            )
        elif payload == "data:forget":
            await ctx.go(FORGET)
        elif payload.startswith(RENEW_LANGUAGE) and payload[len(RENEW_LANGUAGE) :] in (
            LANGUAGE_NAMES
        ):
            language = payload[len(RENEW_LANGUAGE) :]
            ctx.person = await people.set_language(ctx.uow, ctx.person.id, language)
            await ctx.reprompt()
        else:
            return False
        return True


_ROLE_NAMES = {
    "admin": N_("Programme admin"),
    "coordinator": N_("Factory coordinator"),
    "sponsor": N_("Sponsor viewer"),
}


def _role(ctx: Context, role: str) -> str:
    msgid = _ROLE_NAMES.get(role)
    return ctx._(msgid) if msgid else role


def _channel(ctx: Context, channel: str) -> str:
    msgid = my_data.CHANNEL_NAMES.get(channel)
    return ctx._(msgid) if msgid else channel


def _summary(ctx: Context, data: dict[str, Any], factories: dict[str, str]) -> str:
    """Everything kept, in words: factories by name, channels and months as people say them."""
    you = data["you"]
    lines = [
        ctx._(
            "What we keep about you\n"
            "Name: {name}\nFactory: {factory}\nLanguage: {language}\n"
            "Chat accounts: {accounts}\nPrivacy notice agreed: version {version}",
            name=you["name"] or "",
            factory=factories.get(you["factory"], you["factory"]) if you["factory"] else "",
            language=LANGUAGE_NAMES.get(you["language"] or "", ""),
            accounts=", ".join(_channel(ctx, account["channel"]) for account in data["accounts"]),
            version=you["privacy_notice_version"] or "",
        )
    ]
    for child in data["children"]:
        year, month = (int(part) for part in child["birth_month"].split("-"))
        lines.append(
            ctx._(
                "Child: {name}, born {month}. Health notes: {notes}. "
                "Summer space registrations: {registrations}.",
                name=child["name"],
                month=ctx.t.month(year, month),
                notes=child["health_notes"] or ctx._("none"),
                registrations=len(child["registrations"]),
            )
        )
    subscription = data["tips"]["subscription"]
    lines.append(
        ctx._(
            "Workshop bookings: {bookings}\nParenting tips received: {tips} "
            "(tips on: {on})\nMessages we sent you: {messages}",
            bookings=len(data["workshop_bookings"]),
            tips=len(data["tips"]["received"]),
            on=ctx._("yes") if subscription and subscription["active"] else ctx._("no"),
            messages=len(data["messages_to_you"]),
        )
    )
    if data["staff_roles"]:
        roles = ", ".join(
            f"{_role(ctx, role['role'])} {factories.get(role['factory'], role['factory'])}"
            if role["factory"]
            else _role(ctx, role["role"])
            for role in data["staff_roles"]
        )
        lines.append(ctx._("Staff roles: {roles}", roles=roles))
    lines.append(
        ctx._(
            "The files have every detail. Your children's details are erased {days} days "
            "after their last summer space ends.",
            days=ctx.retention_days,
        )
    )
    return "\n\n".join(lines)


class MyDataStep(Step):
    """A readable summary of everything kept, with the file, corrections and forgetting."""

    name = MY_DATA

    async def prompt(self, ctx: Context) -> None:
        """Show the summary."""
        data = await my_data.collect(ctx.uow, ctx.person.id)
        ctx.say(
            _summary(ctx, data, await my_data.factory_names(ctx.uow, ctx.language)),
            [
                Choice(ctx._("Download my data"), "data:file"),
                Choice(ctx._("Correct my details"), "data:correct"),
                Choice(ctx._("My children"), "children"),
                Choice(ctx._("Forget me"), "data:forget"),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Send the files, or open what was pressed."""
        if payload == "data:file":
            data = await my_data.collect(ctx.uow, ctx.person.id)
            files = my_data.data_files(
                data,
                f"my-data-{datetime.now(UTC):%Y%m%d}",
                ctx.t,
                await ctx.zone(),
                await my_data.factory_names(ctx.uow, ctx.language),
            )
            for made in files:
                ctx.replies.append(
                    Reply(
                        made.filename,
                        attachment=Attachment(made.filename, made.content, made.mime),
                    )
                )
            await ctx.reprompt()
        elif payload in ("data:correct", "children", "data:forget"):
            await ctx.go({"data:correct": ACCOUNT, "data:forget": FORGET}.get(payload, payload))
        else:
            return False
        return True


class ForgetStep(Step):
    """One confirmed step that erases everything about the person."""

    name = FORGET

    async def prompt(self, ctx: Context) -> None:
        """Say what forgetting erases, and ask to confirm."""
        ctx.say(
            ctx._(
                "Forget you? We will erase your name, your details, your chat with us and "
                "your children's details (a child another guardian looks after stays with "
                "them). Messages waiting to be sent to you are stopped. This cannot be "
                "undone. Only anonymous counts stay in the programme's reports."
            ),
            [
                Choice(ctx._("Yes, erase everything"), "forget:yes"),
                Choice(ctx._("No, keep my data"), "forget:no"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Erase everything, or go back."""
        if payload == "forget:no":
            await menu.open_menu(ctx)
            return True
        if payload != "forget:yes":
            return False
        await erasure.forget_person(
            ctx.uow, ctx.notify, ctx.workshop_notify, ctx.person.id, datetime.now(UTC)
        )
        ctx.erased = True
        ctx.state.data.clear()
        ctx.state.step = ""
        ctx.say(
            ctx._(
                "Done: we have erased everything about you. Thank you for being with us. "
                "If you write again, we will greet you as someone new."
            )
        )
        return True


def steps() -> list[Step]:
    """Return the privacy steps."""
    return [RenewStep(), MyDataStep(), ForgetStep()]
