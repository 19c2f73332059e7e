"""Building the WeChat channel from our settings."""

from __future__ import annotations

from bot.app import App
from bot.wechat.adapter import Keys
from bot.wechat.channel import WeChatChannel

__all__ = ["create_wechat_channel", "wechat_keys"]


def wechat_keys(app: App) -> Keys:
    """The token and AES keys (current first, then the one being retired) from settings."""
    settings = app.settings
    if settings.wechat_token is None:
        raise ValueError("WECHAT_TOKEN is not set")
    aes_keys = tuple(
        key.get_secret_value()
        for key in (settings.wechat_aes_key, settings.wechat_aes_key_previous)
        if key is not None
    )
    return Keys(
        settings.wechat_token.get_secret_value(),
        settings.wechat_app_id or "",
        aes_keys,
        compatible=settings.wechat_compatible_mode,
    )


def create_wechat_channel(app: App) -> WeChatChannel:
    """The channel answering WeChat's posts to /wechat."""
    return WeChatChannel(
        wechat_keys(app),
        app.conversations,
        app.db,
        app.translators,
        reply_seconds=app.settings.wechat_reply_seconds,
        concurrency=app.settings.concurrency,
    )
