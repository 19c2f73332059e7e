"""Building python-telegram-bot's Bot from our settings."""

from __future__ import annotations

import os

from bot.telegram.bot import JsonBot
from bot.telegram.channel import POLL_TIMEOUT
from bot.telegram.ratelimit import FloodLimiter
from bot.telegram.request import AiohttpRequest, proxy_from_environment
from ffs_bot.config import Settings

__all__ = ["create_bot"]

DEFAULT_BASE_URL = "https://api.telegram.org/bot"


def create_bot(settings: Settings, limiter: FloodLimiter) -> JsonBot:
    """A Bot with our flood limiter, pointed at `TELEGRAM_API_BASE_URL` when it is set."""
    # Opt in to PTB's coming behaviour (durations as timedelta) instead of its warnings.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    base_url = settings.telegram_api_base_url or DEFAULT_BASE_URL
    proxy = proxy_from_environment(base_url)
    # A press makes three calls at once; pushes from the outbox come on top.
    pool_size = 3 * settings.concurrency + 16
    return JsonBot(
        token=settings.telegram_bot_token.get_secret_value(),
        base_url=base_url,
        request=AiohttpRequest(connection_pool_size=pool_size, proxy=proxy),
        # Long polling holds its connection open for up to POLL_TIMEOUT seconds.
        get_updates_request=AiohttpRequest(
            connection_pool_size=1, read_timeout=POLL_TIMEOUT + 10, proxy=proxy
        ),
        rate_limiter=limiter,
    )
