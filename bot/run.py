"""`ffs-bot run` and `ffs-bot worker`: the long-running processes, with clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import App
from bot.housekeeping import every_minute, tidy_forever
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.channel import TelegramChannel
from bot.telegram.factory import create_bot
from bot.telegram.ratelimit import FloodLimiter
from bot.telegram.sender import TelegramSender
from bot.web import TELEGRAM_PATH, create_web_app
from bot.worker import OutboxWorker
from ffs_bot.model import Channel

__all__ = ["run_service", "run_worker"]

log = logging.getLogger(__name__)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def run_service(app: App, stop: asyncio.Event | None = None, *, worker: bool = True) -> None:
    """Answer Telegram (polling, or the webhook when configured) and deliver the outbox."""
    settings = app.settings
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    webhook_url = settings.telegram_webhook_url
    secret = settings.telegram_webhook_secret
    if webhook_url and secret is None:
        raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
    # One limiter for answers and pushes: Telegram counts them together.
    limiter = FloodLimiter()
    bot = create_bot(settings, limiter)
    channel = TelegramChannel(
        bot, app.conversations, app.db, app.translators, concurrency=settings.concurrency
    )
    await channel.start()
    await channel.set_commands()
    web_app = create_web_app(
        app.engine,
        channel if webhook_url else None,
        secret.get_secret_value() if secret else "",
        path=urlsplit(webhook_url).path or TELEGRAM_PATH if webhook_url else TELEGRAM_PATH,
    )
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    tasks: list[asyncio.Task[None]] = []
    if webhook_url:
        assert secret is not None
        await bot.set_webhook(
            url=webhook_url,
            secret_token=secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
        log.info("webhook set; serving on %s:%s", settings.http_host, settings.http_port)
    else:
        poller = asyncio.create_task(channel.poll(stop), name="telegram-poll")
        # Polling that dies for a reason it does not handle must not leave a process that
        # looks alive but hears nothing: stop, and let the supervisor start it again.
        poller.add_done_callback(lambda task: None if task.cancelled() else stop.set())
        tasks.append(poller)
        log.info("polling Telegram; health check on %s:%s", settings.http_host, settings.http_port)
    worker_stop = asyncio.Event()
    if worker:
        outbox = OutboxWorker(
            app.db,
            {Channel.TELEGRAM.value: TelegramSender(bot)},
            max_attempts=settings.outbox_max_attempts,
        )
        tasks.append(asyncio.create_task(outbox.run(worker_stop), name="outbox"))
        tasks.append(
            asyncio.create_task(
                tidy_forever(app.db, worker_stop, app.notify, settings.retention_days),
                name="tidy",
            )
        )
        tasks.append(
            asyncio.create_task(
                every_minute(
                    app.db, app.notify, app.workshop_notify, app.translators, worker_stop
                ),
                name="every-minute",
            )
        )
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        # Polling confirms nothing it has not stored, so cutting it short loses nothing.
        for task in tasks:
            if task.get_name() == "telegram-poll":
                task.cancel()
        await runner.cleanup()
        worker_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await channel.stop()


async def run_worker(app: App, stop: asyncio.Event | None = None) -> None:
    """Deliver the outbox alone, as one of possibly several worker processes."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    limiter = FloodLimiter()
    bot = create_bot(app.settings, limiter)
    await bot.initialize()
    outbox = OutboxWorker(
        app.db,
        {Channel.TELEGRAM.value: TelegramSender(bot)},
        max_attempts=app.settings.outbox_max_attempts,
    )
    jobs = [
        asyncio.create_task(
            tidy_forever(app.db, stop, app.notify, app.settings.retention_days), name="tidy"
        ),
        asyncio.create_task(
            every_minute(app.db, app.notify, app.workshop_notify, app.translators, stop),
            name="every-minute",
        ),
    ]
    try:
        await outbox.run(stop)
    finally:
        await asyncio.gather(*jobs, return_exceptions=True)
        await bot.shutdown()
