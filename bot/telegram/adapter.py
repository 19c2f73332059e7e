"""Conversions only: Telegram updates to `Inbound`s, and `Reply`s to Bot API arguments."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode

from ffs_bot.messages import Inbound, Reply
from ffs_bot.model import Channel

__all__ = [
    "ALLOWED_UPDATES",
    "Converted",
    "chat_key",
    "convert",
    "message_arguments",
    "send_reply",
]

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
CHANNEL = Channel.TELEGRAM.value


@dataclass(frozen=True, slots=True)
class Converted:
    """What an update asks of us: a message to answer, and for a press, what was pressed."""

    chat_id: int
    user_id: str
    inbound: Inbound | None = None
    callback_query_id: str | None = None
    pressed_message_id: int | None = None
    reachable: bool | None = None


def chat_key(body: dict[str, Any]) -> str:
    """The key that keeps one person's updates in order, read from a raw update."""
    for field in ("message", "callback_query", "my_chat_member", "edited_message"):
        part = body.get(field)
        if isinstance(part, dict):
            sender = part.get("from") or part.get("chat") or {}
            if isinstance(sender, dict) and "id" in sender:
                return str(sender["id"])
    return "unknown"


def convert(update: Update) -> Converted | None:
    """Turn an update into what the conversation engine takes; None for what we ignore.

    Only private chats are served: the bot talks with one person at a time.
    """
    external_id = str(update.update_id)
    if update.message is not None and update.message.from_user is not None:
        message = update.message
        if message.chat.type != ChatType.PRIVATE:
            return None
        user = message.from_user
        assert user is not None
        return Converted(
            chat_id=message.chat.id,
            user_id=str(user.id),
            inbound=Inbound(
                channel=CHANNEL,
                user_id=str(user.id),
                # Photos, stickers and voice have no text; the engine asks for text.
                text=message.text,
                language_hint=user.language_code,
                message_id=external_id,
            ),
        )
    if update.callback_query is not None:
        query = update.callback_query
        pressed = query.message
        if pressed is None or pressed.chat.type != ChatType.PRIVATE:
            return None
        return Converted(
            chat_id=pressed.chat.id,
            user_id=str(query.from_user.id),
            inbound=Inbound(
                channel=CHANNEL,
                user_id=str(query.from_user.id),
                payload=query.data or "",
                language_hint=query.from_user.language_code,
                message_id=external_id,
            ),
            callback_query_id=query.id,
            pressed_message_id=pressed.message_id,
        )
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type != ChatType.PRIVATE:
            return None
        status = member.new_chat_member.status
        return Converted(
            chat_id=member.chat.id,
            user_id=str(member.from_user.id),
            reachable=status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT),
        )
    return None


async def send_reply(bot: Bot, chat_id: int, reply: Reply, **extra: Any) -> None:
    """Send one reply: a message, or a document with the text as its caption."""
    arguments = message_arguments(reply)
    if reply.attachment is None:
        await bot.send_message(chat_id=chat_id, **arguments, **extra)
        return
    await bot.send_document(
        chat_id=chat_id,
        document=InputFile(reply.attachment.content, filename=reply.attachment.filename),
        caption=arguments["text"],
        parse_mode=arguments["parse_mode"],
        reply_markup=arguments["reply_markup"],
        **extra,
    )


def message_arguments(reply: Reply) -> dict[str, Any]:
    """Bot API arguments for `sendMessage`: escaped HTML text and one button per row."""
    markup = (
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(c.label, callback_data=c.payload)] for c in reply.choices]
        )
        if reply.choices
        else None
    )
    return {
        "text": html.escape(reply.text, quote=False),
        "parse_mode": ParseMode.HTML,
        "reply_markup": markup,
    }
