"""A yes/no question before cancelling something of the person's own."""

from __future__ import annotations

from ffs_bot.errors import NotFound
from ffs_bot.messages import Choice
from handlers.context import Context
from handlers.router import Step

__all__ = ["ConfirmCancelStep"]


class ConfirmCancelStep(Step):
    """Ask before cancelling the record whose id a list step left in `key`; then go back.

    Subclasses name the step, the payload prefix, the state key, the list step to go back to
    and the question (an English msgid), and do the cancelling.
    """

    prefix = ""  # e.g. "ws:cancel": the buttons are "<prefix>:yes" and "<prefix>:no"
    key = ""
    back = ""
    question = ""

    async def prompt(self, ctx: Context) -> None:
        """Ask to confirm."""
        ctx.say(
            ctx._(self.question),
            [
                Choice(ctx._("Yes, cancel it"), f"{self.prefix}:yes"),
                Choice(ctx._("No, keep it"), f"{self.prefix}:no"),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Cancel, or keep."""
        if payload == f"{self.prefix}:no":
            await ctx.go(self.back)
            return True
        if payload != f"{self.prefix}:yes" or self.key not in ctx.state.data:
            return False
        try:
            await self.cancel(ctx, int(ctx.state.data.pop(self.key)))
        except NotFound:
            return False
        ctx.note(ctx._("Cancelled."))
        await ctx.go(self.back)
        return True

    async def cancel(self, ctx: Context, record_id: int) -> None:
        """Cancel the record (raise NotFound when it is not the person's)."""
        raise NotImplementedError
