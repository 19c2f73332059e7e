"""The programme report in chat, for staff and sponsor viewers: figures, a chart, a workbook."""

from __future__ import annotations

import asyncio
import logging

from ffs_bot import reports
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.fonts import CjkFontMissing
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.spreadsheets import ExportFile, Table
from handlers import menu
from handlers.children import today
from handlers.context import Context
from handlers.router import Step

__all__ = ["REPORT", "steps"]

REPORT = menu.REPORT
log = logging.getLogger(__name__)
# The newest years with figures; older ones through `ffs-bot report --year`.
YEARS_SHOWN = 6


def _phone_text(ctx: Context, table: Table, year: str) -> str:
    """The figures as a list a small phone shows whole: one "label: value" line each."""
    # No aligned columns: chat fonts are not monospaced and a narrow screen wraps them.
    lines = [ctx._("Programme report {year}", year=year)]
    for label, value, *_rest in table.rows:
        lines.append(
            ctx._("• {label}: {value}", label=label, value="" if value is None else value)
        )
    return "\n".join(lines)


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
        except Exception as error:
            # Whatever breaks the chart, the figures still go. The cause is for the
            # operator's log; staff only need to know the figures stand.
            if not isinstance(error, CjkFontMissing):
                log.exception("report chart failed")
            ctx.note(
                ctx._(
                    "The chart cannot be made just now. The figures are above and in the workbook."
                )
            )
        files.append(await asyncio.to_thread(reports.report_workbook, report, ctx.t))
        ctx.replies.append(Reply(_phone_text(ctx, reports.summary_table(report, ctx.t), year)))
        for made in files:
            ctx.replies.append(
                Reply(made.filename, attachment=Attachment(made.filename, made.content, made.mime))
            )
        await ctx.reprompt()
        return True


def steps() -> list[Step]:
    """Return the report step."""
    return [ReportStep()]
