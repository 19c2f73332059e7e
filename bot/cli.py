"""The `ffs-bot` command line: chat, demo, database, factories, staff and exports.

This module only parses: `bot.commands` (the database, the conversations, everything else)
is imported once a command is known, so `ffs-bot --help` answers at once.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date

from ffs_bot.ids import record_id
from ffs_bot.model import Channel, RoleName

__all__ = ["main"]


def _id(text: str) -> int:
    """A record id from the command line: argparse says so when it names no record."""
    if (number := record_id(text)) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id")
    return number


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`, checked by argparse."""

    def number(text: str) -> int:
        if not (
            text.isascii() and text.isdecimal() and len(text) <= 9 and low <= int(text) <= high
        ):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number from {low} to {high}")
        return int(text)

    return number


def _export_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the export options taken together, if anything."""
    if args.table == "registrations" and (args.workshop is not None or args.workshops):
        return "registrations are of seasons: --workshop and --workshops are not for them"
    if args.table == "bookings" and args.season is not None:
        return "bookings are of workshops: --season is not for them"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ffs-bot", description="FFS Bot: Family-Friendly Spaces and parent training."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="answer on Telegram and WeChat, and deliver the outbox")
    run.add_argument("--no-worker", action="store_true", help="leave delivery to ffs-bot worker")
    run.set_defaults(handler="run_service")
    commands.add_parser(
        "worker", help="deliver the outbox (one of several processes)"
    ).set_defaults(handler="run_worker")

    def chat_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--user", default="local", help="console user id (default: local)")
        p.add_argument("--language-code", help="client language hint, e.g. zh-CN or en-US")

    chat = commands.add_parser("chat", help="chat with the bot in this terminal")
    chat_options(chat)
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out, for programs")
    chat.set_defaults(handler="chat")

    demo = commands.add_parser("demo", help="load demo data into an empty database, then chat")
    chat_options(demo)
    demo.set_defaults(handler="demo", jsonl=False)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND"
    )
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler="db_upgrade")

    factory = commands.add_parser("factory", help="factories").add_subparsers(
        dest="factory_command", required=True, metavar="SUBCOMMAND"
    )
    imp = factory.add_parser("import", help="import or update factories from a CSV file")
    imp.add_argument("file", help="CSV with header code,name_zh,name_en,city,timezone")
    imp.set_defaults(handler="factory_import")
    lst = factory.add_parser("list", help="list factories")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(handler="factory_list")

    tips_cmd = commands.add_parser("tips", help="parenting tips").add_subparsers(
        dest="tips_command", required=True, metavar="SUBCOMMAND"
    )
    tip_import = tips_cmd.add_parser("import", help="import or update tips from a YAML file")
    tip_import.add_argument("file", help="the tip library (see ffs_bot/tips/starter.yaml)")
    tip_import.set_defaults(handler="tips_import")
    tip_stats = tips_cmd.add_parser("stats", help="how often tips were sent and found helpful")
    tip_stats.add_argument("--json", action="store_true", help="print JSON")
    tip_stats.set_defaults(handler="tips_stats")

    staff_cmd = commands.add_parser("staff", help="staff roles").add_subparsers(
        dest="staff_command", required=True, metavar="SUBCOMMAND"
    )
    add = staff_cmd.add_parser("add", help="grant a staff role")
    add.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    add.add_argument("--user-id", required=True, help="the account's id on that channel")
    add.add_argument("--role", required=True, choices=[r.value for r in RoleName])
    add.add_argument(
        "--factory", action="append", metavar="CODE", help="factory scope (repeatable)"
    )
    add.set_defaults(handler="staff_add")
    staff_cmd.add_parser("list", help="list staff roles").set_defaults(handler="staff_list")
    remove = staff_cmd.add_parser("remove", help="take a staff role away")
    remove.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    remove.add_argument("--user-id", required=True, help="the account's id on that channel")
    remove.add_argument("--role", required=True, choices=[r.value for r in RoleName])
    remove.add_argument(
        "--factory", action="append", metavar="CODE", help="only for this factory (repeatable)"
    )
    remove.set_defaults(handler="staff_remove")

    audit = commands.add_parser("audit", help="list the audit log")
    audit.add_argument("--since", metavar="DATE", help="from this day on (YYYY-MM-DD, UTC)")
    audit.add_argument(
        "--limit", type=_bounded(1, 1_000_000), default=1000, help="at most this many (1000)"
    )
    audit.set_defaults(handler="audit")

    purge_cmd = commands.add_parser(
        "purge",
        help="erase children's data FFS_RETENTION_DAYS after their last season ends",
        description="Children whose last season ended more than FFS_RETENTION_DAYS (90) days "
        "ago and who are not registered for a later one lose their names, birth months and "
        "notes; anonymous counts stay. The worker runs this daily.",
    )
    purge_cmd.add_argument(
        "--dry-run", action="store_true", help="only count what would be erased"
    )
    purge_cmd.set_defaults(handler="purge")

    export = commands.add_parser(
        "export",
        help="write registrations, workshop bookings or attendance to a CSV or XLSX file",
        description="Seasons by default; attendance is of workshops with --workshop or "
        "--workshops. Workshops: those of the last 365 days and those to come.",
    )
    export.add_argument("table", choices=["registrations", "bookings", "attendance"])
    export.add_argument("--factory", metavar="CODE", help="only this factory")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--season", type=_id, metavar="ID", help="only this season")
    which.add_argument("--workshop", type=_id, metavar="ID", help="only this workshop")
    which.add_argument(
        "--workshops", action="store_true", help="attendance of workshops rather than seasons"
    )
    export.add_argument("--format", required=True, choices=["csv", "xlsx"])
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")

    def check_export(args: argparse.Namespace) -> None:
        problem = _export_problem(args)
        if problem is not None:
            export.error(problem)  # exits with 2 and the usage, as argparse's own checks do

    export.set_defaults(handler="export", check=check_export)

    report = commands.add_parser(
        "report", help="a programme year's figures: factories, families, workshops, tips"
    )
    report.add_argument(
        "--year",
        type=_bounded(2000, 2100),
        default=date.today().year,
        help="the year (default: this year)",
    )
    report.add_argument("--factory", metavar="CODE", help="only this factory")
    report.add_argument("--json", action="store_true", help="print JSON")
    report.add_argument(
        "--chart", metavar="FILE", help="also write the children-and-parents chart (PNG)"
    )
    report.add_argument("--xlsx", metavar="FILE", help="also write the tables as a workbook")
    report.set_defaults(handler="report")

    wechat = commands.add_parser("wechat", help="the WeChat Official Account").add_subparsers(
        dest="wechat_command", required=True, metavar="SUBCOMMAND"
    )
    wechat.add_parser(
        "menu", help="set the account's custom menu (sign up a child, workshops, more)"
    ).set_defaults(handler="wechat_menu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `ffs-bot` command line and return its exit code."""
    args = _parser().parse_args(argv)
    if "check" in args:
        args.check(args)
    # The commands' modules make some 300,000 objects that live as long as the process; the
    # cyclic collector would walk them again and again while they load (a sixth of the
    # start), and once more at the first full collection after. So it is off while they
    # load, and they are frozen: it then walks only what the command itself makes.
    if "bot.commands" not in sys.modules:  # once a process: a test may call main() again
        gc.disable()
        try:
            importlib.import_module("bot.commands")
        finally:
            gc.freeze()
            gc.enable()
    from bot.commands import run_command

    # Whatever this process creates (databases, exports, SQLite's and other libraries' own
    # files) is its owner's alone, whatever umask it was started with.
    os.umask(0o077)
    return run_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
