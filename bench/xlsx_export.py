"""XLSX exports: time and memory of writing a table as a workbook, synthetic or at scale.

Without `--families`: a synthetic table shaped like the workshop bookings export (12
columns: text, numbers, days, times, a check-in time in four rows of five, a rating in two of
five, a comment in one of ten; `--rows` rows) is made a workbook `--repeats` times as
`ffs-bot export` makes its file (`spreadsheets.export_table`, written to memory), then once more
under tracemalloc for the peak memory the writing took beyond the table itself.

With `--families N`: a fresh database is filled as `bench/scale.py` fills it (SQLite in a
temporary directory, or a scratch database on `--postgres SERVER_URL`), and the operator's
whole-programme exports (every factory) are built and made workbooks `--repeats` times, then
each once more with its table built first and only the workbook under tracemalloc.

Printed for each: the times, their median (and the median CPU time: on a shared machine the
steadier figure), the process's peak RSS so far, and the traced peak of the writing alone.
Run it in the tree to measure; `OPENPYXL_LXML=False` makes openpyxl write without lxml.

    .venv/bin/python bench/xlsx_export.py [--rows 60000] [--repeats 3]
    .venv/bin/python bench/xlsx_export.py --families 100000 [--repeats 1] [--postgres URL] \
        [--exports registrations,attendance,bookings,workshop-attendance]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_scale import fill, scratch_database  # noqa: E402
from scale import EXPORT_NOW  # noqa: E402

from ffs_bot.db.engine import create_session_factory  # noqa: E402
from ffs_bot.db.uow import Database  # noqa: E402
from ffs_bot.exports import (  # noqa: E402
    BOOKING_COLUMNS,
    attendance_table,
    bookings_table,
    registrations_table,
    workshop_attendance_table,
)
from ffs_bot.spreadsheets import Cell, Table, export_table  # noqa: E402
from ffs_bot.xlsx import to_xlsx_sheets  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
EXPORTS: dict[str, tuple[Callable[..., Awaitable[Table]], dict[str, Any]]] = {
    "registrations": (registrations_table, {}),
    "attendance": (attendance_table, {}),
    "bookings": (bookings_table, {"now": EXPORT_NOW}),
    "workshop-attendance": (workshop_attendance_table, {"now": EXPORT_NOW}),
}


def synthetic_table(rows: int) -> Table:
    """A table like a whole programme's workshop bookings, with the same mix of cell types."""
    rng = random.Random(10)
    first = datetime(2025, 6, 1, 9)
    made: list[tuple[Cell, ...]] = []
    for i in range(rows):
        workshop = i // 30 + 1
        starts = first + timedelta(weeks=workshop % 3 * 3, hours=workshop % 2 * 5)
        came = rng.random() < 0.8
        made.append(
            (
                f"F{workshop // 2 + 1:05d}",
                workshop,
                starts.date(),
                starts.time(),
                (starts + timedelta(hours=3)).time(),
                "家长课堂",
                rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
                "Confirmed",
                f"B{i + 1:07d}",
                starts + timedelta(minutes=rng.randint(-10, 30)) if came else None,
                rng.randint(3, 5) if came and rng.random() < 0.5 else None,
                "讲得很好，下次还来" if rng.random() < 0.1 else None,
            )
        )
    return Table("Workshop bookings", BOOKING_COLUMNS, made)


async def _as_file(build: Callable[[], Awaitable[Table]]) -> tuple[float, float, int, int]:
    """Seconds (wall, CPU) to build and write the workbook as `ffs-bot export` does; rows
    and bytes."""
    started, cpu = time.perf_counter(), time.process_time()
    exported, rows = await export_table(build, "xlsx", "bench")
    return time.perf_counter() - started, time.process_time() - cpu, rows, len(exported.content)


def _peak_of_writing(table: Table) -> int:
    """Bytes allocated at the peak of writing `table` as a workbook, beyond the table."""
    gc.collect()
    tracemalloc.start()
    try:
        to_xlsx_sheets([table])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _max_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux counts kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _report(label: str, runs: list[tuple[float, float, int, int]], rss: int, peak: int) -> None:
    times = [seconds for seconds, _cpu, _rows, _bytes in runs]
    cpu = [seconds for _wall, seconds, _rows, _bytes in runs]
    _seconds, _cpu, rows, size = runs[0]
    print(
        f"{label}: {rows:,} rows, {size / 1e6:.1f} MB; "
        + ", ".join(f"{t:.2f} s" for t in times)
        + f" (median {statistics.median(times):.2f} s, CPU {statistics.median(cpu):.2f} s);"
        f" process peak RSS {rss / 2**20:.0f} MiB;"
        f" writing alone {peak / 2**20:.0f} MiB (tracemalloc)",
        flush=True,
    )


async def synthetic(rows: int, repeats: int) -> None:
    """Time and trace the synthetic table."""
    table = synthetic_table(rows)

    async def build() -> Table:
        return table

    print(f"table made; process peak RSS {_max_rss() / 2**20:.0f} MiB", flush=True)
    runs = [await _as_file(build) for _ in range(repeats)]
    _report("synthetic bookings", runs, _max_rss(), _peak_of_writing(table))


async def at_scale(families: int, repeats: int, postgres: str | None, exports: list[str]) -> None:
    """Fill a database as bench/scale.py does; time and trace the whole-programme exports."""
    async with scratch_database(postgres) as engine:
        started = time.perf_counter()
        sizes = await fill(engine, families, workshops_per_factory=2)
        print(f"{engine.dialect.name}: {families:,} families in", end=" ")
        print(f"{time.perf_counter() - started:.0f} s", sizes, flush=True)
        db = Database(create_session_factory(engine))
        for label in exports:
            builder, options = EXPORTS[label]

            async def build(
                builder: Callable[..., Awaitable[Table]] = builder,
                options: dict[str, Any] = options,
            ) -> Table:
                async with db.uow() as uow:
                    return await builder(uow, actor_person_id=None, **options)

            runs = [await _as_file(build) for _ in range(repeats)]
            _report(label, runs, _max_rss(), _peak_of_writing(await build()))


def main() -> None:
    """Parse the arguments and measure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000, help="rows of the synthetic table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", type=int, help="measure the real exports at this size")
    parser.add_argument("--postgres", help="server URL to make a scratch database on")
    parser.add_argument(
        "--exports", default=",".join(EXPORTS), help="which, comma-separated (default: all)"
    )
    args = parser.parse_args()
    if args.families is None:
        asyncio.run(synthetic(args.rows, args.repeats))
    else:
        exports = args.exports.split(",")
        asyncio.run(at_scale(args.families, args.repeats, args.postgres, exports))


if __name__ == "__main__":
    main()
