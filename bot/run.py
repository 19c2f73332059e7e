"""`ffs-bot run` and `ffs-bot worker`: the long-running processes, with clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import App
from bot.heap import settle_heap
from bot.housekeeping import every_minute, tidy_forever
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.bot import JsonBot
from bot.telegram.channel import TelegramChannel
from bot.telegram.factory import create_bot
from bot.telegram.ratelimit import FloodLimiter
from bot.telegram.sender import TelegramSender
from bot.web import TELEGRAM_PATH, create_web_app
from bot.wechat.api import WeChatApi, WeChatNotConfigured
from bot.wechat.factory import create_wechat_channel
from bot.wechat.sender import WeChatSender
from bot.worker import OutboxWorker
from ffs_bot.db.claims import POLLER, SENDER, ChatClaims, SoleRole
from ffs_bot.delivery import Sender
from ffs_bot.model import Channel

__all__ = ["run_service", "run_worker"]

log = logging.getLogger(__name__)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def _senders(app: App, bot: JsonBot | None, wechat_api: WeChatApi | None) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if bot is not None:
        senders[Channel.TELEGRAM.value] = TelegramSender(bot)
    if wechat_api is not None:
        senders[Channel.WECHAT.value] = WeChatSender(wechat_api, app.db, app.settings)
    return senders


def _wechat_api(app: App) -> WeChatApi | None:
    """The API for pushes; without the app id and secret WeChat pushes wait in the outbox."""
    if not app.settings.wechat_enabled:
        return None
    try:
        return WeChatApi.from_settings(app.settings, app.db)
    except WeChatNotConfigured:
        log.warning("WECHAT_APP_ID or WECHAT_APP_SECRET missing: WeChat pushes are not sent")
        return None


def _background_jobs(app: App, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(
            tidy_forever(app.db, stop, app.notify, app.settings.retention_days), name="tidy"
        ),
        asyncio.create_task(
            every_minute(app.db, app.notify, app.workshop_notify, app.translators, stop),
            name="every-minute",
        ),
    ]


async def run_service(app: App, stop: asyncio.Event | None = None, *, worker: bool = True) -> None:
    """Answer Telegram (polling or webhook) and WeChat, as configured, and deliver the outbox."""
    settings = app.settings
    if settings.telegram_bot_token is None and not settings.wechat_enabled:
        raise ValueError("set TELEGRAM_BOT_TOKEN, WECHAT_TOKEN or both")
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    webhook_url = settings.telegram_webhook_url
    secret = settings.telegram_webhook_secret
    if webhook_url and secret is None:
        raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
    bot: JsonBot | None = None
    channel: TelegramChannel | None = None
    if settings.telegram_bot_token is not None:
        # One limiter for answers and pushes: Telegram counts them together.
        bot = create_bot(settings, FloodLimiter())
        channel = TelegramChannel(
            bot,
            app.conversations,
            app.db,
            app.translators,
            concurrency=settings.concurrency,
            # On PostgreSQL, webhook replicas answer each chat one at a time between them;
            # a poller is the only process with updates while it holds the poller role.
            claims=ChatClaims.for_engine(app.engine) if webhook_url else None,
            poller=None if webhook_url else SoleRole.for_engine(app.engine, POLLER),
        )
        await channel.start()
        await channel.set_commands()
    wechat = create_wechat_channel(app) if settings.wechat_enabled else None
    wechat_api = _wechat_api(app) if worker else None
    web_app = create_web_app(
        app.engine,
        channel if webhook_url else None,
        secret.get_secret_value() if secret else "",
        path=urlsplit(webhook_url).path or TELEGRAM_PATH if webhook_url else TELEGRAM_PATH,
        wechat=wechat,
    )
    # No access log: WeChat's query strings carry the person's openid and signatures.
    runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    tasks: list[asyncio.Task[None]] = []
    if bot is not None and channel is not None and webhook_url:
        assert secret is not None
        await bot.set_webhook(
            url=webhook_url,
            secret_token=secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
        log.info("webhook set; serving on %s:%s", settings.http_host, settings.http_port)
    elif channel is not None:
        poller = asyncio.create_task(channel.poll(stop), name="telegram-poll")
        # Polling that dies for a reason it does not handle must not leave a process that
        # looks alive but hears nothing: stop, and let the supervisor start it again.
        poller.add_done_callback(lambda task: None if task.cancelled() else stop.set())
        tasks.append(poller)
        log.info("polling Telegram; health check on %s:%s", settings.http_host, settings.http_port)
    if wechat is not None:
        log.info("answering WeChat on %s:%s/wechat", settings.http_host, settings.http_port)
    worker_stop = asyncio.Event()
    settle_heap()
    if worker:
        outbox = OutboxWorker(
            app.db,
            _senders(app, bot, wechat_api),
            max_attempts=settings.outbox_max_attempts,
            role=SoleRole.for_engine(app.engine, SENDER),
        )
        tasks.append(asyncio.create_task(outbox.run(worker_stop), name="outbox"))
        tasks.extend(_background_jobs(app, worker_stop))
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        # Polling confirms nothing it has not stored, so cutting it short loses nothing.
        for task in tasks:
            if task.get_name() == "telegram-poll":
                task.cancel()
        await runner.cleanup()
        if wechat is not None:
            await wechat.stop()
        worker_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if channel is not None:
            await channel.stop()
        if wechat_api is not None:
            await wechat_api.close()


async def run_worker(app: App, stop: asyncio.Event | None = None) -> None:
    """Deliver the outbox alone, as one of possibly several worker processes."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    bot: JsonBot | None = None
    if app.settings.telegram_bot_token is not None:
        bot = create_bot(app.settings, FloodLimiter())
        await bot.initialize()
    wechat_api = _wechat_api(app)
    outbox = OutboxWorker(
        app.db,
        _senders(app, bot, wechat_api),
        max_attempts=app.settings.outbox_max_attempts,
        role=SoleRole.for_engine(app.engine, SENDER),
    )
    jobs = _background_jobs(app, stop)
    settle_heap()
    try:
        await outbox.run(stop)
    finally:
        await asyncio.gather(*jobs, return_exceptions=True)
        if bot is not None:
            await bot.shutdown()
        if wechat_api is not None:
            await wechat_api.close()
