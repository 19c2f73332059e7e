"""Scale: report and export times, and SQL statements per update, at 1,000 and 100,000 families.

For each size a fresh database (SQLite in a temporary directory, or with `--postgres
SERVER_URL` a scratch database made and dropped on that server) is filled in bulk by
`report_scale.fill` (one factory per 100 families, families of one or two parents and one
or two children, registrations, attendance, tips) with two workshops per factory and their
bookings: at 100,000 families, 1,000 factories, about 150,000 workers, 125,000 children and
2,000 workshops. Then, each `--repeats` times in its own unit of work:

- the programme report (`programme_report`, as `ffs-bot report` runs it);
- the exports coordinators and the operator run (`ffs-bot export`, and the chat's export):
  registrations and attendance of every season, and bookings and attendance of every
  workshop, for the whole programme and for one factory, built and written as CSV;

and the median time and SQL statements of each are printed. Last, one new person talks to
the real conversation engine: onboarding, the menu, adding a child, registering for the
summer space, booking a workshop and asking for a tip, on a season, a workshop and a tip
library added to the first factory; the SQL statements of every update are counted with
SQLAlchemy's `before_cursor_execute` event and must be the same at every size.

    .venv/bin/python bench/scale.py [--families 1000,100000] [--repeats 3]
    .venv/bin/python bench/scale.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_scale import YEAR, fill, scratch_database, time_reports  # noqa: E402

from ffs_bot.db.engine import create_session_factory  # noqa: E402
from ffs_bot.db.uow import Database  # noqa: E402
from ffs_bot.exports import (  # noqa: E402
    attendance_table,
    bookings_table,
    registrations_table,
    workshop_attendance_table,
)
from ffs_bot.i18n import load_translators  # noqa: E402
from ffs_bot.messages import Inbound, Reply  # noqa: E402
from ffs_bot.services.seasons import create_season  # noqa: E402
from ffs_bot.services.tips import import_tips  # noqa: E402
from ffs_bot.services.workshops import create_workshop  # noqa: E402
from ffs_bot.spreadsheets import Table, export_table  # noqa: E402
from ffs_bot.tips import parse_library  # noqa: E402
from handlers.engine import ConversationEngine, build_router  # noqa: E402

FACTORY = "F00001"  # the first generated factory: the new person's, and the one-factory export
# The generated workshops are in YEAR; the workshop exports cover a year back from "now".
EXPORT_NOW = datetime(YEAR, 12, 31, tzinfo=UTC)
TARGET_STATEMENTS = 6


@dataclass(frozen=True, slots=True)
class Step:
    """One update of the scripted conversation: a typed text or a pressed payload."""

    label: str
    text: str | None = None
    press: str | None = None
    # A payload to pick from the last answer's buttons by its prefix (an id not known before).
    press_prefix: str | None = None
    expect: str | None = None  # a payload the answer must offer, to know the step worked


def conversation(workshop_id: int) -> list[Step]:
    """What a new worker does: sign up, add a child, register them, book, ask for a tip."""
    return [
        Step("onboarding: /start f-CODE (first contact)", text=f"/start f-{FACTORY}"),
        Step("onboarding: language", press="lang:zh_Hans", expect="consent:yes"),
        Step("onboarding: consent", press="consent:yes"),
        Step("onboarding: name", text="王姐", expect="children"),
        Step("menu press: my children", press="children", expect="child:add"),
        Step("add child: start", press="child:add", expect="childnotice:yes"),
        Step("add child: notice agreed", press="childnotice:yes"),
        Step("add child: name", text="小明"),
        Step("add child: birth month", text="2019年3月", expect="gender:boy"),
        Step("add child: gender", press="gender:boy", expect="rel:mother"),
        Step("add child: relationship (saved)", press="rel:mother", expect="cv:health"),
        Step("menu (typed)", text="菜单", expect="summer"),
        Step("menu press: summer space", press="summer", expect="summer:register"),
        Step("register: start", press="summer:register"),
        Step("register: child", press_prefix="summer:child:", expect="summer:whole"),
        Step("register: whole season (saved)", press="summer:whole"),
        Step("menu press: main menu", press="menu", expect="ws"),
        Step("menu press: workshops", press="ws", expect=f"ws:open:{workshop_id}"),
        Step("workshop: open", press=f"ws:open:{workshop_id}", expect="ws:book"),
        Step("workshop: book (saved)", press="ws:book"),
        Step("menu (typed) again", text="菜单", expect="tips"),
        Step("menu press: tips", press="tips", expect="tips:more"),
        Step("tip: ask for one", press="tips:more"),
        Step("help (typed)", text="帮助"),
    ]


def main() -> None:
    """Parse the arguments, measure each size, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="1000,100000", help="sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each report and export")
    parser.add_argument("--postgres", help="server URL to make a scratch database on")
    parser.add_argument("--show-sql", action="store_true", help="print each update's SQL")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    results = [
        asyncio.run(measure(int(size), args.repeats, args.postgres, args.show_sql))
        for size in args.families.split(",")
    ]
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


async def measure(
    families: int, repeats: int, postgres: str | None, show_sql: bool
) -> dict[str, Any]:
    """Fill a fresh database and measure the report, the exports and the conversation."""
    async with scratch_database(postgres) as engine:
        started = time.perf_counter()
        sizes = await fill(engine, families, workshops_per_factory=2)
        if engine.dialect.name == "postgresql":
            await _advance_sequences(engine)
        load = time.perf_counter() - started
        print(f"{engine.dialect.name}: {families:,} families in {load:.0f} s", sizes, flush=True)
        db = Database(create_session_factory(engine))
        report_times, report_statements = await time_reports(engine, repeats)
        exports = await time_exports(engine, db, repeats)
        steps = await count_steps(engine, db, show_sql)
    return {
        "database": "PostgreSQL" if postgres else "SQLite",
        "families": families,
        **sizes,
        "load_s": load,
        "report_ms": statistics.median(report_times) * 1000,
        "report_statements": report_statements,
        "exports": exports,
        "steps": steps,
    }


async def _advance_sequences(engine: AsyncEngine) -> None:
    """The bulk load gave ids itself; move PostgreSQL's sequences past them."""
    async with engine.begin() as conn:
        columns = await conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_default LIKE 'nextval%'"
            )
        )
        for table, column in columns.all():
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f'COALESCE((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
                )
            )


class StatementCounter:
    """Counts (and keeps) the SQL statements an engine sends while switched on."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self._engine = engine

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._count)


ExportBuilder = Callable[..., Awaitable[Table]]
EXPORTS: list[tuple[str, ExportBuilder, dict[str, Any]]] = [
    ("registrations, every season", registrations_table, {}),
    ("attendance, every season", attendance_table, {}),
    ("workshop bookings, every workshop", bookings_table, {"now": EXPORT_NOW}),
    ("workshop attendance, every workshop", workshop_attendance_table, {"now": EXPORT_NOW}),
    ("registrations, one factory", registrations_table, {"factory_code": FACTORY}),
    ("attendance, one factory", attendance_table, {"factory_code": FACTORY}),
    (
        "workshop attendance, one factory",
        workshop_attendance_table,
        {"factory_code": FACTORY, "now": EXPORT_NOW},
    ),
]


async def time_exports(engine: AsyncEngine, db: Database, repeats: int) -> list[dict[str, Any]]:
    """Build each export as the operator (every factory, or one) and make it a CSV file."""
    results = []
    for label, build, options in EXPORTS:
        times, counts, rows = [], [], 0

        async def made(build: ExportBuilder = build, options: dict[str, Any] = options) -> Table:
            async with db.uow() as uow:
                return await build(uow, actor_person_id=None, **options)

        for _ in range(repeats):
            with StatementCounter(engine) as counter:
                started = time.perf_counter()
                # As `ffs-bot export` makes its file (written here to memory, not disk).
                _exported, rows = await export_table(made, "csv", "export")
                times.append(time.perf_counter() - started)
            counts.append(len(counter.statements))
        result = {
            "export": label,
            "rows": rows,
            "median_ms": statistics.median(times) * 1000,
            "statements": counts[0],
        }
        print(
            f"  export {label}: {rows:,} rows, "
            + ", ".join(f"{t * 1000:.0f} ms" for t in times)
            + f"; statements {counts}",
            flush=True,
        )
        results.append(result)
    return results


async def _prepare_conversation(db: Database) -> int:
    """A season open for registration, a workshop to come and tips at the first factory."""
    year = date.today().year + 1
    now = datetime.now(UTC)
    async with db.uow() as uow:
        await create_season(
            uow,
            factory_code=FACTORY,
            starts_on=date(year, 7, 5),
            ends_on=date(year, 8, 20),
            min_age_years=3,
            max_age_years=12,
            capacity=200,
            registration_deadline=date(year, 6, 30),
        )
        workshop = await create_workshop(
            uow,
            factory_code=FACTORY,
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=2),
            topic="和孩子视频聊天",
            language="zh_Hans",
            capacity=30,
        )
        library = (REPO / "ffs_bot/tips/starter.yaml").read_text(encoding="utf-8")
        entries, _errors = parse_library(library)
        await import_tips(uow, entries)
        await uow.commit()
    return workshop.id


async def count_steps(engine: AsyncEngine, db: Database, show_sql: bool) -> list[dict[str, Any]]:
    """Walk the conversation for a new person; the statements of each update."""
    workshop_id = await _prepare_conversation(db)
    conversations = ConversationEngine(db.uow, load_translators(REPO / "locales"), build_router())
    results = await walk(conversations, engine, conversation(workshop_id), user="scale-1")
    for result in results:
        print(f"  {result['statements']:>2}  {result['step']}", flush=True)
        if show_sql:
            for statement in result["sql"]:
                print("        " + " ".join(statement.split())[:160])
    return [{k: v for k, v in r.items() if k != "sql"} for r in results]


async def walk(
    conversations: ConversationEngine, engine: AsyncEngine, steps: list[Step], user: str
) -> list[dict[str, Any]]:
    """Send each step as `user` on Telegram; return each step's statements."""
    results = []
    last: list[Reply] = []
    for number, step in enumerate(steps):
        payload = step.press
        if step.press_prefix is not None:
            offered = [c.payload for reply in last for c in reply.choices]
            payload = next(p for p in offered if p.startswith(step.press_prefix))
        with StatementCounter(engine) as counter:
            last = await conversations.handle(
                Inbound(
                    "telegram",
                    user,
                    text=step.text,
                    payload=payload,
                    language_hint="zh-hans",
                    message_id=f"{user}-{number}",
                )
            )
        offered = [c.payload for reply in last for c in reply.choices]
        if step.expect is not None and step.expect not in offered:
            answer = " / ".join(reply.text for reply in last)
            raise RuntimeError(f"{step.label}: no {step.expect} in {offered}: {answer}")
        results.append(
            {"step": step.label, "statements": len(counter.statements), "sql": counter.statements}
        )
    return results


def print_tables(results: list[dict[str, Any]]) -> None:
    """The figures as Markdown tables."""
    print()
    print("| database | families | people | children | workshops | bookings | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['database']} | {r['families']:,} | {r['people']:,} | {r['children']:,} "
            f"| {r['workshops']:,} | {r['bookings']:,} | {r['load_s']:.0f} s |"
        )
    print()
    header = " | ".join(f"{r['database']} {r['families']:,}" for r in results)
    print(f"| what | {header} |")
    print("| --- |" + " ---: |" * len(results))
    print(
        "| programme report | "
        + " | ".join(f"{r['report_ms']:.0f} ms, {r['report_statements']} st." for r in results)
        + " |"
    )
    for i, (label, _build, _options) in enumerate(EXPORTS):
        cells = [
            f"{e['median_ms']:.0f} ms, {e['rows']:,} rows, {e['statements']} st."
            for e in (r["exports"][i] for r in results)
        ]
        print(f"| export: {label} | " + " | ".join(cells) + " |")
    print()
    print(f"| update | {header} |")
    print("| --- |" + " ---: |" * len(results))
    for i, step in enumerate(results[0]["steps"]):
        counts = [r["steps"][i]["statements"] for r in results]
        flag = "" if len(set(counts)) == 1 and max(counts) <= TARGET_STATEMENTS else " (!)"
        print(f"| {step['step']}{flag} | " + " | ".join(map(str, counts)) + " |")


if __name__ == "__main__":
    main()
