"""What each `ffs-bot` command does, once `bot.cli` has parsed it; `run_command` runs one.

Imported only after the arguments are parsed, so `ffs-bot --help` and a usage error load none
of this. What only one command needs (the web server and channels, the WeChat API) is
imported by that command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.app import App, build_app
from bot.console import ConsoleSender, run_human, run_jsonl
from bot.housekeeping import purge
from bot.logs import configure_logging, secrets_of
from bot.worker import OutboxWorker
from ffs_bot.config import Settings
from ffs_bot.db.migrate import upgrade
from ffs_bot.demo import DEMO_SEASON_FACTORY, load_demo, make_demo_coordinator
from ffs_bot.demo.history import HISTORY_YEAR
from ffs_bot.errors import FfsError, NotFound
from ffs_bot.exports import (
    attendance_table,
    bookings_table,
    registrations_table,
    workshop_attendance_table,
)
from ffs_bot.i18n import DEFAULT_LANGUAGE
from ffs_bot.model import Channel, RoleName
from ffs_bot.reports import (
    programme_report,
    report_chart_file,
    report_tables,
    report_workbook,
    text_table,
)
from ffs_bot.services import factories, staff, tips
from ffs_bot.services.audit import list_events, record_event
from ffs_bot.spreadsheets import Table, export_table
from ffs_bot.tips import parse_library

__all__ = ["COMMANDS", "run_command"]

log = logging.getLogger("ffs_bot")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A command that could not do what was asked; the message tells the operator why."""


class UsageError(CommandError):
    """A command given something that does not exist; it exits as a usage error does."""


Handler = Callable[[App, argparse.Namespace], Awaitable[int]]


async def _chat(app: App, args: argparse.Namespace) -> int:
    """Chat with the bot on the console channel."""
    stdin = sys.stdin.buffer
    if args.jsonl:
        await run_jsonl(app.conversations, args.user, args.language_code, stdin, sys.stdout)
    else:
        # Pushes to this user (a place confirmed, an offer) show up after each answer.
        pushes = OutboxWorker(
            app.db, {Channel.CONSOLE.value: ConsoleSender(args.user, sys.stdout)}
        )
        await run_human(
            app.conversations,
            app.translators,
            args.user,
            args.language_code,
            stdin,
            sys.stdout,
            pushes.drain,
            app.settings.data_dir / "exports",
        )
    return EXIT_OK


async def _demo(app: App, args: argparse.Namespace) -> int:
    """Load the demo programme into an empty database, then chat."""
    async with app.db.uow() as uow:
        loaded = await load_demo(uow, app.settings.default_timezone, date.today())
        if loaded.seasons:
            await make_demo_coordinator(uow, Channel.CONSOLE.value, args.user)
        await uow.commit()
    if loaded.factories or loaded.seasons or loaded.workshops:
        workshops = f"{loaded.workshops} upcoming workshop{'' if loaded.workshops == 1 else 's'}"
        print(
            f"Loaded demo data: {loaded.factories} factories, {loaded.seasons} open season, "
            f"{workshops}, {loaded.tips} parenting tips.",
            file=sys.stderr,
        )
    if loaded.history is not None:
        past = loaded.history
        print(
            f"History: summer {HISTORY_YEAR} at {past.spaces} factories ({past.returning} "
            f"returning, {past.sponsored} sponsored), {past.children} children, "
            f"{past.parents} parents; see 'ffs-bot report --year {HISTORY_YEAR}'.",
            file=sys.stderr,
        )
    if loaded.seasons:
        print(
            f"console:{args.user} also coordinates {DEMO_SEASON_FACTORY}'s season: "
            "after signing up, the menu shows 'Staff menu'.",
            file=sys.stderr,
        )
    return await _chat(app, args)


async def _db_upgrade(app: App, args: argparse.Namespace) -> int:
    """Apply database migrations."""
    await upgrade(app.engine)
    print("Database is up to date.")
    return EXIT_OK


async def _factory_import(app: App, args: argparse.Namespace) -> int:
    """Import factories from a CSV file; good rows are kept even when others fail."""
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    good, errors = factories.parse_factory_csv(text, app.settings.default_timezone)
    async with app.db.uow() as uow:
        report = await factories.import_factories(uow, good, errors)
        await uow.commit()
    for error in report.errors:
        print(f"{path}:{error.line}: {error.message}", file=sys.stderr)
    print(
        f"Imported {report.created + report.updated} factories "
        f"({report.created} new, {report.updated} updated); {len(report.errors)} rows refused."
    )
    return EXIT_FAILED if report.errors else EXIT_OK


async def _tips_import(app: App, args: argparse.Namespace) -> int:
    """Import tips from a YAML library; good entries are kept even when others fail."""
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        good, errors = parse_library(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    async with app.db.uow() as uow:
        added, updated = await tips.import_tips(uow, good)
        await uow.commit()
    for error in errors:
        print(f"{path}:{error.line}: tip {error.tip_id}: {error.problem}", file=sys.stderr)
    print(
        f"Imported {added + updated} tips ({added} new, {updated} updated); {len(errors)} refused."
    )
    return EXIT_FAILED if errors else EXIT_OK


async def _tips_stats(app: App, args: argparse.Namespace) -> int:
    """Print how often each tip and topic was sent and found helpful."""
    async with app.db.uow() as uow:
        by_tip, by_topic = await tips.tip_figures(uow)

    def rows(figures: list[tips.TipFigures]) -> list[dict[str, object]]:
        return [
            {
                "id": f.key,
                "topic": f.topic,
                "sent": f.sent,
                "helpful": f.helpful,
                "not_helpful": f.not_helpful,
            }
            for f in figures
        ]

    if args.json:
        print(json.dumps({"topics": rows(by_topic), "tips": rows(by_tip)}, indent=2))
        return EXIT_OK
    print(f"{'topic / tip':<32} {'sent':>6} {'helpful':>8} {'not':>5}")
    for topic in by_topic:
        print(f"{topic.key:<32} {topic.sent:>6} {topic.helpful:>8} {topic.not_helpful:>5}")
        for tip in (t for t in by_tip if t.topic == topic.key):
            print(f"  {tip.key:<30} {tip.sent:>6} {tip.helpful:>8} {tip.not_helpful:>5}")
    return EXIT_OK


async def _factory_list(app: App, args: argparse.Namespace) -> int:
    """List factories, as a table or as JSON."""
    async with app.db.uow() as uow:
        rows = await factories.list_factories(uow)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "code": f.code,
                        "name_zh": f.name_zh,
                        "name_en": f.name_en,
                        "city": f.city,
                        "timezone": f.timezone,
                    }
                    for f in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    if not rows:
        print("No factories yet: import some with 'ffs-bot factory import FILE.csv'.")
    for f in rows:
        print(f"{f.code:<8} {f.name_zh}  {f.name_en}  {f.city}  {f.timezone}")
    return EXIT_OK


async def _staff_add(app: App, args: argparse.Namespace) -> int:
    """Grant a staff role to a channel account."""
    async with app.db.uow() as uow:
        grants = await staff.grant_role(
            uow,
            channel=args.channel,
            external_user_id=args.user_id,
            role=RoleName(args.role),
            factory_codes=args.factory or [],
        )
        await uow.commit()
    for grant in grants:
        scope = grant.factory_code or "all factories"
        print(f"{grant.channel}:{grant.external_user_id} is {grant.role.value} ({scope})")
    return EXIT_OK


async def _staff_list(app: App, args: argparse.Namespace) -> int:
    """List staff roles."""
    async with app.db.uow() as uow:
        grants = await staff.list_roles(uow)
    if not grants:
        print("No staff yet: add some with 'ffs-bot staff add'.")
    for grant in grants:
        scope = grant.factory_code or "all factories"
        print(f"{grant.channel}:{grant.external_user_id}  {grant.role.value}  {scope}")
    return EXIT_OK


async def _staff_remove(app: App, args: argparse.Namespace) -> int:
    """Take a staff role away from a channel account."""
    async with app.db.uow() as uow:
        try:
            removed = await staff.revoke_role(
                uow,
                channel=args.channel,
                external_user_id=args.user_id,
                role=RoleName(args.role),
                factory_codes=args.factory or [],
            )
        except NotFound as exc:
            raise UsageError(str(exc)) from exc
        await uow.commit()
    print(f"Removed {removed} {args.role} role{'' if removed == 1 else 's'}.")
    return EXIT_OK


async def _audit(app: App, args: argparse.Namespace) -> int:
    """Print the audit log from a day on: who did what to which record, and when."""
    since = None
    if args.since:
        try:
            since = datetime.combine(date.fromisoformat(args.since), time(), UTC)
        except ValueError as exc:
            raise UsageError(f"--since takes a day as YYYY-MM-DD, not {args.since!r}") from exc
    async with app.db.uow() as uow:
        entries = await list_events(uow, since, limit=args.limit)
    for entry in entries:
        actor = f"person {entry.actor_person_id}" if entry.actor_person_id else "system"
        subject = f"{entry.subject_type} {entry.subject_id}".strip()
        details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True, default=str)
        when = f"{entry.at:%Y-%m-%d %H:%M:%S}Z"
        print(f"{when}  {actor:<12} {entry.action:<28} {subject:<20} {details}")
    return EXIT_OK


async def _purge(app: App, args: argparse.Namespace) -> int:
    """Erase children's data past retention, or with --dry-run say what would be erased."""
    days = app.settings.retention_days
    result = await purge(app.db, app.notify, days, dry_run=args.dry_run)
    verb = "Would erase" if result.dry_run else "Erased"
    print(
        f"{verb} {result.children} child{'' if result.children == 1 else 'ren'} "
        f"(last season ended before {result.cutoff.isoformat()}, {days} days ago; "
        f"{result.registrations} registration{'' if result.registrations == 1 else 's'} "
        "kept anonymous)."
    )
    return EXIT_OK


def _write_atomically(path: Path, content: bytes) -> None:
    """Write the file whole or not at all: a reader never sees half an export."""
    # mkstemp makes the file readable by its owner alone, which suits children's details.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def _export_table(app: App, args: argparse.Namespace) -> Table:
    """Read the table asked for, as the operator: every factory."""
    async with app.db.uow() as uow:
        if args.table == "bookings" or args.workshop is not None or args.workshops:
            build = bookings_table if args.table == "bookings" else workshop_attendance_table
            return await build(
                uow, actor_person_id=None, factory_code=args.factory, workshop_id=args.workshop
            )
        of_seasons = registrations_table if args.table == "registrations" else attendance_table
        return await of_seasons(
            uow, actor_person_id=None, factory_code=args.factory, season_id=args.season
        )


async def _export(app: App, args: argparse.Namespace) -> int:
    """Write the registrations, bookings or attendance asked for to a CSV or XLSX file."""
    path = Path(args.output)
    try:
        exported, rows = await export_table(
            lambda: _export_table(app, args), args.format, path.stem
        )
    except NotFound as exc:
        raise UsageError(str(exc)) from exc
    await asyncio.to_thread(_write_atomically, path, exported.content)
    async with app.db.uow() as uow:
        await record_event(
            uow,
            "export.cli",
            subject_type=args.table,
            rows=rows,
            factory=args.factory,
            season=args.season,
            workshop=args.workshop,
        )
        await uow.commit()
    print(f"Wrote {rows} {'row' if rows == 1 else 'rows'} to {path}.")
    return EXIT_OK


async def _report(app: App, args: argparse.Namespace) -> int:
    """Print a programme year's figures, as tables or as JSON."""
    try:
        async with app.db.uow() as uow:
            report = await programme_report(
                uow,
                year=args.year,
                factory_code=args.factory,
                timezone=app.settings.default_timezone,
            )
    except NotFound as exc:
        raise UsageError(str(exc)) from exc
    # Each file only when asked for: a workbook needs no font, only the chart does.
    for path, render in ((args.xlsx, report_workbook), (args.chart, report_chart_file)):
        if path:
            exported = await asyncio.to_thread(render, report)
            await asyncio.to_thread(_write_atomically, Path(path), exported.content)
            print(f"Wrote {path}.", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    where = "all factories" if report.factory_code is None else report.factory_code
    print(f"Programme report {report.year}, {where}")
    for table in report_tables(report):
        if table.rows:
            print()
            print(text_table(table))
    return EXIT_OK


async def _wechat_menu(app: App, args: argparse.Namespace) -> int:
    """Set the WeChat account's custom menu."""
    from bot.wechat.api import WeChatApi, WeChatError
    from bot.wechat.menu import custom_menu

    menu = custom_menu(app.translators[DEFAULT_LANGUAGE])
    try:
        async with WeChatApi.from_settings(app.settings, app.db) as api:
            await api.create_menu(menu)
    except WeChatError as exc:
        raise CommandError(f"the WeChat menu was not set: {exc}") from None
    names = [button["name"] for button in menu["button"]]
    print(f"WeChat menu set: {' | '.join(names)}.")
    return EXIT_OK


def _need_a_channel(app: App) -> None:
    if app.settings.telegram_bot_token is None and not app.settings.wechat_enabled:
        raise CommandError(
            "Neither TELEGRAM_BOT_TOKEN nor WECHAT_TOKEN is set. Set one or both (see the "
            "README), or try the bot offline with 'ffs-bot demo'."
        )


async def _run_service(app: App, args: argparse.Namespace) -> int:
    """Run the bot on Telegram and WeChat, with the delivery worker unless told not to."""
    from bot.run import run_service

    _need_a_channel(app)
    await run_service(app, worker=not args.no_worker)
    return EXIT_OK


async def _run_worker(app: App, args: argparse.Namespace) -> int:
    """Run the delivery worker alone."""
    from bot.run import run_worker

    _need_a_channel(app)
    await run_worker(app)
    return EXIT_OK


COMMANDS: dict[str, Handler] = {
    "run_service": _run_service,
    "run_worker": _run_worker,
    "chat": _chat,
    "demo": _demo,
    "db_upgrade": _db_upgrade,
    "factory_import": _factory_import,
    "factory_list": _factory_list,
    "tips_import": _tips_import,
    "tips_stats": _tips_stats,
    "staff_add": _staff_add,
    "staff_list": _staff_list,
    "staff_remove": _staff_remove,
    "audit": _audit,
    "purge": _purge,
    "export": _export,
    "report": _report,
    "wechat_menu": _wechat_menu,
}


async def _run(handler: Handler, settings: Settings, args: argparse.Namespace) -> int:
    app = await build_app(settings)
    try:
        return await handler(app, args)
    finally:
        await app.close()


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command and return its exit code; failures are one line on stderr."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"ffs-bot: bad configuration: {problems}", file=sys.stderr)
        return EXIT_USAGE
    # After the settings, so the secrets they hold are blanked should any reach a log.
    configure_logging(os.environ.get("FFS_LOG_LEVEL", "WARNING"), secrets=secrets_of(settings))
    try:
        return asyncio.run(_run(COMMANDS[args.handler], settings, args))
    except UsageError as exc:
        print(f"ffs-bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandError, FfsError, ValueError) as exc:
        print(f"ffs-bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        # One line, not a stack trace; parameters are hidden, so no personal data shows.
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        print(f"ffs-bot: database error: {type(cause).__name__}: {cause}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"ffs-bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
