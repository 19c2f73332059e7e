"""Conversions only: raw Telegram updates to `Inbound`s, and `Reply`s to Bot API arguments."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InputFile
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
    "unreadable",
    "update_id",
]

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
CHANNEL = Channel.TELEGRAM.value
# Telegram's ids are integers of at most 52 bits (update ids of 31); a wider one, a float or
# text is not Telegram's, and no column of ours holds it.
MAX_ID = 2**63


@dataclass(frozen=True, slots=True)
class Converted:
    """What an update asks of us: a message to answer, and for a press, what was pressed."""

    chat_id: int
    user_id: str
    inbound: Inbound | None = None
    callback_query_id: str | None = None
    pressed_message_id: int | None = None
    reachable: bool | None = None


def _id(value: Any) -> int:
    """An id as Telegram sends one: an integer a 64-bit column holds (not a bool or float)."""
    if type(value) is not int or not -MAX_ID <= value < MAX_ID:
        raise ValueError("not an id")
    return value


def update_id(body: Any) -> int | None:
    """The update's id, or None when the body is not an update at all."""
    number = body.get("update_id") if isinstance(body, dict) else None
    return number if type(number) is int and 0 <= number < MAX_ID else None


def chat_key(body: dict[str, Any]) -> str:
    """The key that keeps one person's updates in order, read from a raw update."""
    for field in ("message", "callback_query", "my_chat_member", "edited_message"):
        part = body.get(field)
        if isinstance(part, dict):
            sender = part.get("from") or part.get("chat") or {}
            if isinstance(sender, dict) and "id" in sender:
                try:
                    return str(_id(sender["id"]))
                except ValueError:
                    break
    return "unknown"


def unreadable(body: dict[str, Any]) -> str | None:
    """Why an update cannot be read (and so never answered), or None when it can.

    What `convert` ignores (a group's message, a kind we do not ask for) is readable.
    """
    try:
        # Not JSON as the standard has it (NaN, Infinity), or nested too deep to store.
        json.dumps(body, allow_nan=False)
        convert(body)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        return f"cannot be read: {type(exc).__name__}"
    return None


def convert(body: dict[str, Any]) -> Converted | None:
    """Turn a raw update into what the conversation engine takes; None for what we ignore.

    Only private chats are served: the bot talks with one person at a time. The update is
    read as the Bot API's JSON, as stored: parsing it into PTB's objects first took a sixth
    of the service's time. Raises KeyError, TypeError or ValueError for a malformed update.
    """
    external_id = str(body["update_id"])
    message = body.get("message")
    if message is not None:
        user = message.get("from")
        if user is None or message["chat"]["type"] != ChatType.PRIVATE:
            return None
        user_id = str(_id(user["id"]))
        return Converted(
            chat_id=_id(message["chat"]["id"]),
            user_id=user_id,
            inbound=Inbound(
                channel=CHANNEL,
                user_id=user_id,
                # Photos, stickers and voice have no text; the engine asks for text.
                text=_optional_str(message.get("text")),
                language_hint=_optional_str(user.get("language_code")),
                message_id=external_id,
            ),
        )
    query = body.get("callback_query")
    if query is not None:
        pressed = query.get("message")
        if pressed is None or pressed["chat"]["type"] != ChatType.PRIVATE:
            return None
        user = query["from"]
        user_id = str(_id(user["id"]))
        return Converted(
            chat_id=_id(pressed["chat"]["id"]),
            user_id=user_id,
            inbound=Inbound(
                channel=CHANNEL,
                user_id=user_id,
                payload=_optional_str(query.get("data")) or "",
                language_hint=_optional_str(user.get("language_code")),
                message_id=external_id,
            ),
            callback_query_id=str(query["id"]),
            pressed_message_id=_id(pressed["message_id"]),
        )
    member = body.get("my_chat_member")
    if member is not None:
        if member["chat"]["type"] != ChatType.PRIVATE:
            return None
        status = member["new_chat_member"]["status"]
        return Converted(
            chat_id=_id(member["chat"]["id"]),
            user_id=str(_id(member["from"]["id"])),
            reachable=status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT),
        )
    return None


def _optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {type(value).__name__}")


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
        api_kwargs=arguments.get("api_kwargs"),
        **extra,
    )


def message_arguments(reply: Reply) -> dict[str, Any]:
    """Bot API arguments for `sendMessage`: escaped HTML text and one button per row.

    The keyboard goes as its JSON, through PTB's `api_kwargs`: built as PTB's objects, it
    took three quarters of the time to prepare a message.
    """
    arguments: dict[str, Any] = {
        "text": html.escape(reply.text, quote=False),
        "parse_mode": ParseMode.HTML,
    }
    if reply.choices:
        rows = [[{"text": c.label, "callback_data": c.payload}] for c in reply.choices]
        keyboard = json.dumps({"inline_keyboard": rows}, ensure_ascii=False, separators=(",", ":"))
        arguments["api_kwargs"] = {"reply_markup": keyboard}
    return arguments
