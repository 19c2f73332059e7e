"""Programme admins give staff roles in chat: the account, the role, the factories."""

from __future__ import annotations

from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.messages import Choice
from ffs_bot.model import Channel, RoleName
from ffs_bot.services import staff
from handlers import menu
from handlers.context import Context
from handlers.router import Step

__all__ = ["GRANT", "steps"]

GRANT = "roles.account"
ROLE = "roles.role"
FACTORIES = "roles.factories"


async def _admin(ctx: Context) -> bool:
    return (await staff.staff_scope(ctx.uow, ctx.person.id)).every_factory


class AccountStep(Step):
    """Whose account: channel and id, as `ffs-bot staff list` shows them."""

    name = GRANT

    async def prompt(self, ctx: Context) -> None:
        """Ask for the account."""
        if not await _admin(ctx):
            await menu.open_menu(ctx)
            return
        ctx.ask(
            ctx._(
                "Whose account? Type the channel and the id, for example telegram:123456789 "
                "or wechat:oAbC123."
            ),
            [Choice(ctx._("Cancel"), "cancel")],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Check the account's form and ask for the role."""
        channel, _, user_id = text.strip().partition(":")
        if channel.lower() not in {c.value for c in Channel} or not staff.USER_ID.fullmatch(
            user_id.strip()
        ):
            ctx.retry(ctx._("Please type it as channel:id, for example telegram:123456789."))
            return True
        ctx.state.data["grant"] = {"channel": channel.lower(), "user": user_id.strip()}
        await ctx.go(ROLE)
        return True


class RoleStep(Step):
    """Which role."""

    name = ROLE

    async def prompt(self, ctx: Context) -> None:
        """Offer the roles."""
        ctx.say(
            ctx._("Which role?"),
            [
                Choice(ctx._("Factory coordinator"), "roles:coordinator"),
                Choice(ctx._("Sponsor viewer (counts only)"), "roles:sponsor"),
                Choice(ctx._("Programme admin (every factory)"), "roles:admin"),
                Choice(ctx._("Cancel"), "cancel"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Grant an admin at once; ask a scoped role's factories."""
        role = payload.removeprefix("roles:")
        grant = ctx.state.data.get("grant")
        if not payload.startswith("roles:") or role not in {r.value for r in RoleName}:
            return False
        if not isinstance(grant, dict) or not await _admin(ctx):
            return False
        grant["role"] = role
        if role == RoleName.ADMIN.value:
            return await _grant(ctx, [])
        await ctx.go(FACTORIES)
        return True


class FactoriesStep(Step):
    """The factories a coordinator runs or a sponsor funds."""

    name = FACTORIES

    async def prompt(self, ctx: Context) -> None:
        """Ask for factory codes."""
        ctx.ask(
            ctx._("Which factories? Type their codes, for example SZ01 DG01."),
            [Choice(ctx._("Cancel"), "cancel")],
        )

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Grant the role for the factories typed."""
        codes = [code for code in text.replace(",", " ").replace("，", " ").split() if code]
        if not codes:
            return False
        return await _grant(ctx, codes)


async def _grant(ctx: Context, codes: list[str]) -> bool:
    grant = ctx.state.data.get("grant")
    if not isinstance(grant, dict):
        return False
    try:
        made = await staff.grant_role(
            ctx.uow,
            channel=str(grant["channel"]),
            external_user_id=str(grant["user"]),
            role=RoleName(str(grant["role"])),
            factory_codes=codes,
            actor_person_id=ctx.person.id,
        )
    except Forbidden:
        # No longer an admin (or never was): as a button no longer there.
        return False
    except (NotFound, InvalidInput):
        ctx.retry(ctx._("One of those factory codes does not exist. Please check them."))
        return True
    ctx.state.data.pop("grant", None)
    scopes = ", ".join(sorted(g.factory_code or ctx._("every factory") for g in made))
    ctx.note(
        ctx._(
            "Done: {account} now has the role {role} for {scope}.",
            account=f"{grant['channel']}:{grant['user']}",
            role=str(grant["role"]),
            scope=scopes,
        )
    )
    await ctx.go(menu.STAFF)
    return True


def steps() -> list[Step]:
    """Return the role steps."""
    return [AccountStep(), RoleStep(), FactoriesStep()]
