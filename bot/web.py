"""Our aiohttp server: health check and the Telegram webhook."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.telegram.channel import TelegramChannel

__all__ = ["SECRET_HEADER", "TELEGRAM_PATH", "create_web_app"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TELEGRAM_PATH = "/telegram"
# Telegram's updates are small; anything much bigger is not one.
MAX_BODY = 1024 * 1024
ENGINE_KEY = web.AppKey("engine", AsyncEngine)
TELEGRAM_KEY = web.AppKey("telegram", TelegramChannel)
SECRET_KEY = web.AppKey("secret", str)


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
    """Check the secret, store the update durably, answer 200; answering happens later."""
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app[SECRET_KEY].encode()):
        return web.Response(status=403, text="forbidden")
    try:
        body: Any = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return web.Response(status=400, text="malformed update")
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
        return web.Response(status=400, text="malformed update")
    await request.app[TELEGRAM_KEY].accept([body])
    return web.Response(text="ok")


def create_web_app(
    engine: AsyncEngine,
    telegram: TelegramChannel | None = None,
    webhook_secret: str = "",
    *,
    path: str = TELEGRAM_PATH,
) -> web.Application:
    """Build the web application; the webhook route exists only with a channel and a secret."""
    app = web.Application(client_max_size=MAX_BODY)
    app[ENGINE_KEY] = engine
    app.router.add_get("/healthz", healthz)
    if telegram is not None and webhook_secret:
        app[TELEGRAM_KEY] = telegram
        app[SECRET_KEY] = webhook_secret
        app.router.add_post(path, telegram_webhook)
    return app
