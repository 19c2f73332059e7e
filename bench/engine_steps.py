"""The conversation engine alone: CPU per onboarding update, no channel and no network.

Each user sends `/start f-SZ01`, presses `lang:zh_Hans` and `consent:yes`, and types `王姐`
straight into `ConversationEngine.handle`, on a fresh database with the demo factories;
`--concurrency` users at a time. Reports updates/s and CPU ms per update (this process's
CPU time, so it is steadier than wall time on a shared machine); `--profile FILE` writes
cProfile stats of the measured part.

`--mixed` runs the mixed-traffic flow of bench/mixed_traffic.py instead (onboarding, a child,
the summer space, a workshop, a tip, menu presses) on a database loaded as `ffs-bot demo`
loads it, and also prints CPU ms per step of the flow (exact with `--concurrency 1`).

    .venv/bin/python bench/engine_steps.py [--users 500] [--postgres URL] [--profile FILE]
        [--mixed]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ffs_bot.config import Settings  # noqa: E402
from ffs_bot.db.engine import create_engine, create_session_factory  # noqa: E402
from ffs_bot.db.migrate import upgrade  # noqa: E402
from ffs_bot.db.uow import Database  # noqa: E402
from ffs_bot.demo import load_demo  # noqa: E402
from ffs_bot.i18n import load_translators  # noqa: E402
from ffs_bot.messages import Inbound, Reply  # noqa: E402
from ffs_bot.notices import FamilyNotifier  # noqa: E402
from ffs_bot.services.factories import import_factories, parse_factory_csv  # noqa: E402
from ffs_bot.workshop_notices import WorkshopNotifier  # noqa: E402
from handlers.engine import ConversationEngine, build_router  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from mixed_traffic import FLOW  # noqa: E402

ONBOARDING = (
    ("text", "/start f-SZ01"),
    ("press", "lang:zh_Hans"),
    ("press", "consent:yes"),
    ("text", "王姐"),
)
WARM_UP_USERS = 20


async def _scratch_postgres(server: str) -> tuple[str, str]:
    """Create a scratch database on the server; return its URL and name."""
    import asyncpg

    name = f"ffs_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.rsplit("/", 1)[0] + f"/{name}", name


async def _drop_postgres(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    """Onboard the users and print the rates."""
    scratch = None
    if args.postgres:
        url, scratch = await _scratch_postgres(args.postgres)
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ffs-engine-')}/ffs.db"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        db = Database(create_session_factory(engine))
        csv_text = (REPO / "ffs_bot/demo/factories.csv").read_text(encoding="utf-8")
        factories, _errors = parse_factory_csv(csv_text, "Asia/Shanghai")
        async with db.uow() as uow:
            await import_factories(uow, factories)
            await uow.commit()
        if args.mixed:
            async with db.uow() as uow:
                await load_demo(uow, "Asia/Shanghai", date.today())
                await uow.commit()
        translators = load_translators(REPO / "locales")
        engine_ = ConversationEngine(
            db.uow,
            translators,
            build_router(),
            FamilyNotifier(translators, timedelta(hours=24)),
            WorkshopNotifier(translators, Settings().workshop_rules),
        )
        flow = FLOW if args.mixed else ONBOARDING
        step_cpu = [0.0] * len(flow)

        async def onboard(user: int) -> None:
            replies: list[Reply] = []
            for number, (kind, value) in enumerate(flow):
                if kind == "pick":
                    offered = [c.payload for r in replies for c in r.choices]
                    found = [p for p in offered if p.startswith(value)]
                    value = found[user % len(found)] if found else value + "1"
                cpu = time.process_time()
                replies = await engine_.handle(
                    Inbound(
                        "telegram",
                        str(user),
                        text=value if kind == "text" else None,
                        payload=None if kind == "text" else value,
                        language_hint="zh-hans",
                        message_id=f"{user}-{number}",
                    )
                )
                step_cpu[number] += time.process_time() - cpu
                if not replies or "wrong" in replies[0].text:
                    raise RuntimeError(f"user {user} step {number}: {replies}")

        await asyncio.gather(*(onboard(10**9 + n) for n in range(WARM_UP_USERS)))
        slots = asyncio.Semaphore(args.concurrency)

        async def limited(user: int) -> None:
            async with slots:
                await onboard(user)

        profile = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        await asyncio.gather(*(limited(n) for n in range(args.users)))
        if profile:
            profile.disable()
            profile.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        updates = args.users * len(flow)
        print(f"{updates} updates: {updates / wall:.0f}/s, {cpu / updates * 1000:.3f} ms CPU each")
        warm = args.users + WARM_UP_USERS
        for (kind, value), spent in zip(flow, step_cpu, strict=True):
            print(f"  {1000 * spent / warm:6.3f} ms  {kind} {value}")
    finally:
        await engine.dispose()
        if scratch is not None:
            await _drop_postgres(args.postgres, scratch)


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", help="a server URL; a scratch database is made on it")
    parser.add_argument("--profile", help="write cProfile stats of the measured part here")
    parser.add_argument("--mixed", action="store_true", help="the mixed-traffic flow")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
