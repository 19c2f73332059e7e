"""Pushing outbox messages on Telegram, with every Bot API error read into an outcome."""

from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.telegram.adapter import send_reply
from bot.telegram.ratelimit import retry_seconds
from ffs_bot.delivery import Delivery, Outcome
from ffs_bot.messages import Reply

__all__ = ["TelegramSender"]

log = logging.getLogger(__name__)


class TelegramSender:
    """The outbox's `Sender` for Telegram."""

    def __init__(self, bot: ExtBot[bool]) -> None:
        self._bot = bot

    async def send(self, recipient: str, replies: list[Reply], *, kind: str = "") -> Delivery:
        """Send each reply to the private chat `recipient`."""
        try:
            for reply in replies:
                # A push: the limiter spaces it within Telegram's limits.
                await send_reply(self._bot, int(recipient), reply, rate_limit_args=True)
        except RetryAfter as exc:
            return Delivery(Outcome.RETRY, retry_after=retry_seconds(exc), error="flood limit")
        except Forbidden as exc:
            return Delivery(Outcome.BLOCKED, error=exc.message)
        except BadRequest as exc:
            return Delivery(Outcome.FAILED, error=exc.message)
        except NetworkError as exc:
            return Delivery(Outcome.RETRY, error=f"network: {exc.message}")
        except TelegramError as exc:
            log.warning("unexpected Telegram error: %s", exc.message)
            return Delivery(Outcome.RETRY, error=exc.message)
        except ValueError:
            return Delivery(Outcome.FAILED, error="not a Telegram chat id")
        return Delivery(Outcome.SENT)
