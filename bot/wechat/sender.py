"""Pushing outbox messages on WeChat: customer-service messages in the window, else templates.

An Official Account may send a person customer-service messages (text, images) only within
`WECHAT_WINDOW_HOURS` of their last message, and at most `WECHAT_WINDOW_QUOTA` of them.
Outside that, only a template message reaches them, and only for the kinds of push an
operator set a template for (`WECHAT_TEMPLATES`); the rest are kept as failed, with the
reason. WeChat's own verdict wins over our reckoning: 45015 (outside the window) and 45047
(too many) turn to the template too. Nothing counts as sent unless WeChat said errcode 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.wechat.api import TOKEN_ERRORS, WeChatApi, WeChatApiError, WeChatUnavailable
from bot.wechat.render import wechat_texts
from ffs_bot.config import Settings
from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.delivery import Delivery, Outcome
from ffs_bot.messages import Reply
from ffs_bot.model import Channel
from ffs_bot.services.reply_window import reply_window

__all__ = ["TEMPLATE_FIELD", "WeChatSender", "template_text"]

log = logging.getLogger(__name__)

# The template field that carries the message; a template set for pushes must have it.
TEMPLATE_FIELD = "content"
MAX_TEMPLATE_CHARS = 200
# WeChat takes temporary images of up to 10 MB.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})

OUTSIDE_WINDOW = 45015  # response out of time limit: the 48 hours are over
WINDOW_QUOTA = 45047  # out of response count limit: too many since the person wrote
DAILY_QUOTA = 45009  # the account's daily calls of this API are used up
BUSY = -1  # system busy: try again
NOT_FOLLOWING = 43004  # the person unfollowed the account
BLACKLISTED = 43019  # the account put the person on its blacklist
# The message can never be sent as it is: no such openid, a bad template or message.
REFUSED = frozenset({40003, 40007, 40008, 40037, 41028, 44002, 44003, 45002, 47001, 47003, 48001})
# WeChat's daily quotas start again at midnight in China.
QUOTA_ZONE = ZoneInfo("Asia/Shanghai")


class WeChatSender:
    """The outbox's `Sender` for WeChat Official Account followers (recipients are openids)."""

    def __init__(
        self,
        api: WeChatApi,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._api = api
        self._db = db
        self._window = timedelta(hours=settings.wechat_window_hours)
        self._quota = settings.wechat_window_quota
        self._templates = dict(settings.wechat_templates)
        self._clock = clock

    async def send(self, recipient: str, replies: list[Reply], *, kind: str = "") -> Delivery:
        """Send `replies` to the follower `recipient` as WeChat allows now."""
        reason = await self._closed_because(recipient)
        if reason is None:
            try:
                await self._send_custom(recipient, replies)
            except WeChatApiError as exc:
                if exc.errcode == OUTSIDE_WINDOW:
                    reason = "WeChat says the 48-hour window is over"
                elif exc.errcode == WINDOW_QUOTA:
                    reason = "WeChat says the window's messages are used up"
                else:
                    return self._outcome(exc)
            except WeChatUnavailable as exc:
                return Delivery(Outcome.RETRY, error=f"network: {exc}")
            else:
                return Delivery(Outcome.SENT)
        template = self._templates.get(kind)
        if template is None:
            return Delivery(
                Outcome.FAILED, error=f"undeliverable: {reason}; no template for {kind!r} pushes"
            )
        try:
            await self._api.send_template(
                recipient, template, {TEMPLATE_FIELD: template_text(replies)}
            )
        except WeChatApiError as exc:
            return self._outcome(exc)
        except WeChatUnavailable as exc:
            return Delivery(Outcome.RETRY, error=f"network: {exc}")
        return Delivery(Outcome.SENT)

    async def _closed_because(self, recipient: str) -> str | None:
        """Why a customer-service message cannot go to `recipient` now, or None if it can."""
        async with self._db.uow() as uow:
            window = await reply_window(uow, Channel.WECHAT.value, recipient)
        if window is None:
            return "the person never wrote to the account"
        if self._clock() >= window.last_seen_at + self._window:
            hours = self._window.total_seconds() / 3600
            return f"the {hours:g}-hour window after the person's last message is over"
        if window.sent_since >= self._quota:
            return f"the {self._quota} messages allowed after the person's last message are sent"
        return None

    async def _send_custom(self, recipient: str, replies: list[Reply]) -> None:
        """Send the replies as customer-service texts, with their PNG or JPEG images."""
        for text in wechat_texts(replies):
            await self._api.send_text(recipient, text)
        for reply in replies:
            file = reply.attachment
            # Other files (a workbook, say) cannot be sent on WeChat: their text went above.
            if file is not None and file.mime in IMAGE_TYPES:
                if len(file.content) > MAX_IMAGE_BYTES:
                    continue
                media_id = await self._api.upload_image(file.filename, file.content, file.mime)
                await self._api.send_image(recipient, media_id)

    def _outcome(self, exc: WeChatApiError) -> Delivery:
        """Read an errcode into what the outbox should do with the push."""
        error = f"wechat errcode {exc.errcode}: {exc.errmsg}"
        if exc.errcode == DAILY_QUOTA:
            # The account's quota, not this message's fault: wait for it, no attempt used.
            return Delivery(Outcome.RETRY, retry_after=self._until_quota_resets(), error=error)
        if exc.errcode in TOKEN_ERRORS or exc.errcode == BUSY:
            return Delivery(Outcome.RETRY, error=error)
        if exc.errcode in (NOT_FOLLOWING, BLACKLISTED):
            return Delivery(Outcome.BLOCKED, error=error)
        if exc.errcode in REFUSED:
            return Delivery(Outcome.FAILED, error=error)
        log.warning("unexpected WeChat errcode %d on %s", exc.errcode, exc.path)
        return Delivery(Outcome.RETRY, error=error)

    def _until_quota_resets(self) -> float:
        now = self._clock().astimezone(QUOTA_ZONE)
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), QUOTA_ZONE)
        return (midnight - now).total_seconds() + 60


def template_text(replies: list[Reply]) -> str:
    """The push's text for a template's field: no choices (they work only in chats), cut short."""
    text = "\n".join(reply.text for reply in replies if reply.text)
    if len(text) > MAX_TEMPLATE_CHARS:
        text = text[: MAX_TEMPLATE_CHARS - 1] + "…"
    return text
