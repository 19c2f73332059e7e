"""The programme report in chat, for staff and sponsor viewers: figures, a chart, a workbook."""

from __future__ import annotations

import asyncio

from ffs_bot import reports
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.fonts import CjkFontMissing
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.spreadsheets import ExportFile
from handlers import menu
from handlers.children import today
from handlers.context import Context
from handlers.router import Step

__all__ = ["REPORT", "steps"]

REPORT = menu.REPORT
# The newest years with figures; older ones through `ffs-bot report --year`.
YEARS_SHOWN = 6


class ReportStep(Step):
    """Which year; then the figures as text, the chart and the workbook as files."""

    name = REPORT

    async def prompt(self, ctx: Context) -> None:
        """Offer the last few years."""
        try:
            # This year in the programme's zone, not the server's; next summer's season too.
            years = await reports.report_years(
                ctx.uow, viewer_person_id=ctx.person.id, this_year=today().year
            )
        except Forbidden:
            await menu.open_menu(ctx)
            return
        ctx.say(
            ctx._("Which year's programme report?"),
            [
                *(Choice(str(year), f"rep:{year}") for year in years[:YEARS_SHOWN]),
                menu.main_menu_choice(ctx),
            ],
        )

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Send the year's report."""
        year = payload.removeprefix("rep:")
        if not payload.startswith("rep:") or not year.isdecimal() or not 2000 <= int(year) <= 2100:
            return False
        try:
            report = await reports.programme_report(
                ctx.uow, year=int(year), viewer_person_id=ctx.person.id
            )
        except (Forbidden, NotFound):
            return False
        files: list[ExportFile] = []
        try:
            # Drawn in a worker thread: the event loop answers others meanwhile.
            files.append(await asyncio.to_thread(reports.report_chart_file, report, ctx.t))
        except CjkFontMissing:
            ctx.note(ctx._("The chart cannot be drawn on this server (no Chinese font)."))
        files.append(await asyncio.to_thread(reports.report_workbook, report, ctx.t))
        summary = reports.text_table(reports.summary_table(report, ctx.t))
        ctx.replies.append(Reply(summary))
        for made in files:
            ctx.replies.append(
                Reply(made.filename, attachment=Attachment(made.filename, made.content, made.mime))
            )
        await ctx.reprompt()
        return True


def steps() -> list[Step]:
    """Return the report step."""
    return [ReportStep()]
