"""Our aiohttp server: health check, the Telegram webhook and the WeChat endpoint."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.telegram.adapter import update_id
from bot.telegram.channel import TelegramChannel
from bot.wechat.adapter import Refused
from bot.wechat.channel import WeChatChannel
from ffs_bot.db.outage import is_unavailable

__all__ = ["SECRET_HEADER", "TELEGRAM_PATH", "WECHAT_PATH", "create_web_app"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TELEGRAM_PATH = "/telegram"
WECHAT_PATH = "/wechat"
# Telegram's updates are small; anything much bigger is not one.
MAX_BODY = 1024 * 1024
ENGINE_KEY = web.AppKey("engine", AsyncEngine)
TELEGRAM_KEY = web.AppKey("telegram", TelegramChannel)
SECRET_KEY = web.AppKey("secret", str)
WECHAT_KEY = web.AppKey("wechat", WeChatChannel)
# A WeChat message is a few kilobytes of XML, even encrypted.
MAX_WECHAT_BODY = 64 * 1024


async def healthz(request: web.Request) -> web.Response:
    """Report whether the database answers."""
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def telegram_webhook(request: web.Request) -> web.Response:
    """Check the secret, store the update durably, answer 200; answering happens later.

    What Telegram sees decides whether it sends the update again: 403 when the secret is
    wrong (not from Telegram), 400 when the body is not an update (not JSON, nested past
    reading, no update id a column holds: Telegram sends none of these), 503 while the
    database is down (it is sent again later), and 200 once stored, also for an update that
    cannot be read (stored finished, with a note: sent again, it would fail again).
    """
    # aiohttp keeps bytes that are not UTF-8 as surrogates: compared as the bytes they were.
    given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, request.app[SECRET_KEY].encode()):
        return web.Response(status=403, text="forbidden")
    try:
        body: Any = json.loads(await request.read())
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than Python reads: Telegram sends neither.
        return web.Response(status=400, text="malformed update")
    if update_id(body) is None:
        return web.Response(status=400, text="malformed update")
    try:
        await request.app[TELEGRAM_KEY].accept([body])
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # Not stored, so not acknowledged: Telegram sends the update again later.
        log.warning("database unreachable; webhook update refused for a later retry")
        return web.Response(status=503, text="try again later")
    return web.Response(text="ok")


async def wechat_check(request: web.Request) -> web.Response:
    """WeChat's server verification: echo `echostr` when the signature holds."""
    try:
        echo = await request.app[WECHAT_KEY].verify(request.query)
    except Refused as exc:
        log.warning("refused a WeChat server check: %s", exc)
        return web.Response(status=403, text="forbidden")
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return web.Response(status=503, text="try again later")
    return web.Response(text=echo)


async def wechat_message(request: web.Request) -> web.Response:
    """A message or event from WeChat: the passive reply, or `success` and an answer later."""
    if (request.content_length or 0) > MAX_WECHAT_BODY:
        return web.Response(status=413, text="too large")
    body = await request.content.read(MAX_WECHAT_BODY + 1)
    if len(body) > MAX_WECHAT_BODY:
        return web.Response(status=413, text="too large")
    try:
        answer = await request.app[WECHAT_KEY].receive(request.query, body)
    except Refused as exc:
        log.warning("refused a WeChat request: %s", exc)
        return web.Response(status=403, text="forbidden")
    except ValueError:
        return web.Response(status=400, text="malformed message")
    if answer.startswith("<xml>"):
        return web.Response(text=answer, content_type="application/xml")
    return web.Response(text=answer)


def create_web_app(
    engine: AsyncEngine,
    telegram: TelegramChannel | None = None,
    webhook_secret: str = "",
    *,
    path: str = TELEGRAM_PATH,
    wechat: WeChatChannel | None = None,
) -> web.Application:
    """Build the web application; a channel's routes exist only when it is configured."""
    app = web.Application(client_max_size=MAX_BODY)
    app[ENGINE_KEY] = engine
    app.router.add_get("/healthz", healthz)
    if telegram is not None and webhook_secret:
        app[TELEGRAM_KEY] = telegram
        app[SECRET_KEY] = webhook_secret
        app.router.add_post(path, telegram_webhook)
    if wechat is not None:
        app[WECHAT_KEY] = wechat
        app.router.add_get(WECHAT_PATH, wechat_check)
        app.router.add_post(WECHAT_PATH, wechat_message)
    return app
