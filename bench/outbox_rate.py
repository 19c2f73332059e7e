"""Outbox delivery rate against a fake Bot API that enforces Telegram's flood limits.

Enqueues N pushes to N distinct chats, drains them with the real worker, sender and flood
limiter over HTTP to `bench/fake_bot_api.py` in rate-limit mode (429 + retry_after above 30
sends/s overall or 1/s per chat), and reports: sustained rate as a ratio of 30/s, 429s
received, pushes lost and pushes sent twice. Medians over R runs.

    .venv/bin/python bench/outbox_rate.py [--pushes 1000] [--repeats 3] [--delay-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_bot_api import FakeBotAPI

from bot.telegram.factory import create_bot
from bot.telegram.ratelimit import FloodLimiter
from bot.telegram.sender import TelegramSender
from bot.worker import OutboxWorker
from ffs_bot.config import Settings
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.uow import Database
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services.people import touch_identity

TOKEN = "123:BENCH"


def settings_for(api: FakeBotAPI) -> Settings:
    """Settings that point a bot at the fake server (and nothing else from the environment)."""
    os.environ.pop("DATABASE_URL", None)
    return Settings(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url, _env_file=None)


async def drain_in_process(db: Database, api: FakeBotAPI) -> float:
    """Send everything due with the real worker, sender and limiter; return the seconds."""
    bot = create_bot(settings_for(api), FloodLimiter())
    await bot.initialize()
    worker = OutboxWorker(db, {"telegram": TelegramSender(bot)})
    started = time.monotonic()
    await worker.drain()
    wall = time.monotonic() - started
    await bot.shutdown()
    return wall


def delivery_figures(
    api: FakeBotAPI, expected: dict[int | str, list[str]], texts: set[str] | None = None
) -> dict[str, float]:
    """Rate (first to last send of `texts`, or of all), 429s, lost and duplicates."""
    times = sorted(
        c.t
        for c in api.calls
        if c.method == "sendMessage" and c.status == 200 and (texts is None or c.text in texts)
    )
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    report = api.compare_deliveries(expected)
    if texts is not None:  # other pushes (a sender's report) are neither lost nor duplicates
        report.duplicated = {
            chat: extra
            for chat, texts_sent in report.duplicated.items()
            if (extra := [t for t in texts_sent if t in texts])
        }
    return {
        "rate": rate,
        "ratio": rate / 30.0,
        "429s": float(api.too_many_requests),
        "lost": float(report.lost_count),
        "duplicates": float(report.duplicated_count),
        "sent": float(len(times)),
    }


async def one_run(pushes: int, delay: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir}/ffs.db")
        await upgrade(engine)
        db = Database(create_session_factory(engine))
        async with FakeBotAPI(token=TOKEN, delay=delay, rate_limit=True) as api:
            expected: dict[int | str, list[str]] = {}
            async with db.uow() as uow:
                for n in range(pushes):
                    chat = 10_000 + n
                    api.chat(chat)
                    expected[chat] = [f"push {n}"]
                    await touch_identity(uow, "telegram", str(chat))
                    await enqueue(
                        uow,
                        channel="telegram",
                        recipient=str(chat),
                        replies=[Reply(f"push {n}")],
                        idempotency_key=f"bench-{n}",
                    )
                await uow.commit()
            wall = await drain_in_process(db, api)
            result = {**delivery_figures(api, expected), "wall": wall}
        await engine.dispose()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=1000, help="pushes, one per chat")
    parser.add_argument("--repeats", type=int, default=3, help="runs; medians are printed")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every API call")
    args = parser.parse_args()
    runs = []
    for i in range(args.repeats):
        result = await one_run(args.pushes, args.delay_ms / 1000)
        runs.append(result)
        print(
            f"run {i + 1}: {result['rate']:.2f} pushes/s ({result['ratio']:.3f}x of 30/s), "
            f"429s {result['429s']:.0f}, lost {result['lost']:.0f}, "
            f"duplicates {result['duplicates']:.0f}, wall {result['wall']:.1f} s",
            flush=True,
        )
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(
        f"outbox, {args.pushes} pushes to distinct chats, {args.delay_ms:.0f} ms API delay, "
        f"median of {args.repeats}: {median['rate']:.2f}/s = {median['ratio']:.3f}x of 30/s; "
        f"429s {median['429s']:.0f}, lost {median['lost']:.0f}, "
        f"duplicates {median['duplicates']:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
