"""A staff broadcast to N people against a fake Bot API that enforces Telegram's flood limits.

N people write to the bot first (onboarding through the real conversation engine: `/start
f-SZ01`, language, consent, name), on a SQLite database made once and copied for each run;
the first of them is a programme admin. Each run, the admin's broadcast to everyone is made
through the broadcasts service (`create_broadcast`, as the chat's broadcast flow does), which
queues one push per account in the outbox; then the real `ffs-bot worker` process (or, with
`--in-process`, the worker, sender and limiter in this process, sharing the fake server's
event loop) delivers them over HTTP to `bench/fake_bot_api.py` in rate-limit mode (429 +
retry_after above 30 sends/s overall or 1/s per chat). Reported: sustained rate (first to
last broadcast message the fake accepted) as a ratio of 30/s, 429s, lost and duplicated
messages (after a quiet spell of `--settle` seconds), and the time to queue the broadcast.

    .venv/bin/python bench/broadcast_rate.py [--recipients 3000] [--repeats 3] [--delay-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from engine_steps import ONBOARDING  # noqa: E402
from fake_bot_api import FakeBotAPI  # noqa: E402
from outbox_rate import TOKEN, delivery_figures, drain_in_process  # noqa: E402
from sqlalchemy import select  # noqa: E402

from ffs_bot.db.engine import create_engine, create_session_factory  # noqa: E402
from ffs_bot.db.migrate import upgrade  # noqa: E402
from ffs_bot.db.tables import IdentityRow  # noqa: E402
from ffs_bot.db.uow import Database  # noqa: E402
from ffs_bot.i18n import load_translators  # noqa: E402
from ffs_bot.messages import Inbound  # noqa: E402
from ffs_bot.model import RoleName  # noqa: E402
from ffs_bot.services.broadcasts import Audience, AudienceKind, create_broadcast  # noqa: E402
from ffs_bot.services.factories import import_factories, parse_factory_csv  # noqa: E402
from ffs_bot.services.staff import grant_role  # noqa: E402
from handlers.engine import ConversationEngine, build_router  # noqa: E402

FFS_BOT = Path(sys.executable).parent / "ffs-bot"
FIRST_CHAT = 20_000
TEXT_ZH = "周六上午十点在厂区活动室有亲子故事会，欢迎带孩子视频参加。"
TEXT_EN = "Story time for parents and children, Saturday 10:00, factory activity room."


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'ffs.db'}"


async def prepare(directory: Path, recipients: int) -> float:
    """Onboard `recipients` people through the engine; the first becomes an admin."""
    engine = create_engine(sqlite_url(directory))
    started = time.perf_counter()
    try:
        await upgrade(engine)
        db = Database(create_session_factory(engine))
        csv_text = (REPO / "ffs_bot/demo/factories.csv").read_text(encoding="utf-8")
        factories, _errors = parse_factory_csv(csv_text, "Asia/Shanghai")
        async with db.uow() as uow:
            await import_factories(uow, factories)
            await uow.commit()
        conversations = ConversationEngine(
            db.uow, load_translators(REPO / "locales"), build_router()
        )
        slots = asyncio.Semaphore(16)

        async def onboard(chat: int) -> None:
            async with slots:
                for number, (kind, value) in enumerate(ONBOARDING):
                    replies = await conversations.handle(
                        Inbound(
                            "telegram",
                            str(chat),
                            text=value if kind == "text" else None,
                            payload=value if kind == "press" else None,
                            language_hint="zh-hans",
                            message_id=f"{chat}-{number}",
                        )
                    )
                    if not replies:
                        raise RuntimeError(f"chat {chat} step {number}: no answer")

        await asyncio.gather(*(onboard(FIRST_CHAT + n) for n in range(recipients)))
        async with db.uow() as uow:
            await grant_role(
                uow,
                channel="telegram",
                external_user_id=str(FIRST_CHAT),
                role=RoleName.ADMIN,
                factory_codes=[],
            )
            await uow.commit()
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def queue_broadcast(directory: Path) -> tuple[int, float]:
    """The admin's broadcast to everyone, through the service; its recipients and seconds."""
    engine = create_engine(sqlite_url(directory))
    try:
        db = Database(create_session_factory(engine))
        started = time.perf_counter()
        async with db.uow() as uow:
            admin_id = await uow.session.scalar(
                select(IdentityRow.person_id).where(
                    IdentityRow.channel == "telegram",
                    IdentityRow.external_user_id == str(FIRST_CHAT),
                )
            )
            assert admin_id is not None
            broadcast = await create_broadcast(
                uow,
                admin_id,
                text_zh=TEXT_ZH,
                text_en=TEXT_EN,
                audience=Audience(AudienceKind.EVERYONE),
            )
            await uow.commit()
        return broadcast.recipients, time.perf_counter() - started
    finally:
        await engine.dispose()


async def deliver_with_process(directory: Path, api: FakeBotAPI, expected: int) -> float:
    """Run `ffs-bot worker` until the fake has `expected` broadcast messages; return seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FFS_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        FFS_DATA_DIR=str(directory),
        FFS_LOG_LEVEL="WARNING",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api.base_url,
    )
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        FFS_BOT, "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        done = await api.wait_until(
            lambda: _sent(api) >= expected or proc.returncode is not None,
            within=expected / 30 * 3 + 60,
        )
        wall = time.monotonic() - started
        if not done or proc.returncode is not None:
            print(f"  worker stopped or timed out after {_sent(api)} sends", flush=True)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    log = err.decode()
    if proc.returncode != 0 or "Traceback" in log:
        print(log[-3000:], flush=True)
    if waits := log.count("Telegram asked to wait"):
        print(f"  the worker logged {waits} flood waits", flush=True)
    return wall


def _sent(api: FakeBotAPI) -> int:
    return api.count("sendMessage")


async def one_run(
    template: Path, recipients: int, delay: float, in_process: bool, settle: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ffs-broadcast-") as scratch:
        directory = Path(scratch)
        shutil.copytree(template, directory, dirs_exist_ok=True)
        queued, queue_seconds = await queue_broadcast(directory)
        async with FakeBotAPI(token=TOKEN, delay=delay, rate_limit=True) as api:
            expected: dict[int | str, list[str]] = {}
            for n in range(recipients):
                api.chat(FIRST_CHAT + n)
                expected[FIRST_CHAT + n] = [TEXT_ZH]
            if in_process:
                engine = create_engine(sqlite_url(directory))
                try:
                    wall = await drain_in_process(Database(create_session_factory(engine)), api)
                finally:
                    await engine.dispose()
            else:
                wall = await deliver_with_process(directory, api, recipients)
            await api.wait_quiet(settle, within=settle + 30)
            figures = delivery_figures(api, expected, {TEXT_ZH})
    return {**figures, "queued": float(queued), "queue_s": queue_seconds, "wall": wall}


async def run(args: argparse.Namespace) -> None:
    runs = []
    with tempfile.TemporaryDirectory(prefix="ffs-broadcast-template-") as scratch:
        template = Path(scratch)
        seconds = await prepare(template, args.recipients)
        print(f"{args.recipients} people onboarded in {seconds:.0f} s", flush=True)
        for i in range(args.repeats):
            result = await one_run(
                template, args.recipients, args.delay_ms / 1000, args.in_process, args.settle
            )
            runs.append(result)
            print(
                f"run {i + 1}: queued {result['queued']:.0f} in {result['queue_s']:.1f} s; "
                f"{result['rate']:.2f} messages/s ({result['ratio']:.3f}x of 30/s), "
                f"429s {result['429s']:.0f}, lost {result['lost']:.0f}, "
                f"duplicates {result['duplicates']:.0f}, wall {result['wall']:.1f} s",
                flush=True,
            )
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    worker = "in-process worker" if args.in_process else "ffs-bot worker"
    print(
        f"broadcast to {args.recipients} ({worker}), {args.delay_ms:.0f} ms API delay, "
        f"median of {args.repeats}: {median['rate']:.2f}/s = {median['ratio']:.3f}x of 30/s; "
        f"429s {median['429s']:.0f} (each run: {[int(r['429s']) for r in runs]}), "
        f"lost {median['lost']:.0f}, duplicates {median['duplicates']:.0f}; "
        f"queued in {median['queue_s']:.1f} s"
    )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=3000, help="people who wrote to us")
    parser.add_argument("--repeats", type=int, default=3, help="runs; medians are printed")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every API call")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="the worker in this process (sharing the fake's event loop), not `ffs-bot worker`",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="quiet seconds to wait for late duplicates"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
