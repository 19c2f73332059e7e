"""Raw Telegram updates become what the conversation engine takes."""

from __future__ import annotations

import json

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.adapter import Converted, convert, message_arguments
from ffs_bot.messages import Choice, Inbound, Reply
from tests.fakes.telegram_api import FakeBotApi


def test_a_private_text_message_is_the_persons_text_with_their_app_language() -> None:
    body = FakeBotApi().text(42, "王姐", language_code="zh-hans")
    assert convert(body) == Converted(
        chat_id=42,
        user_id="42",
        inbound=Inbound(
            channel="telegram",
            user_id="42",
            text="王姐",
            language_hint="zh-hans",
            message_id=str(body["update_id"]),
        ),
    )


def test_a_photo_has_no_text() -> None:
    body = FakeBotApi().text(42, "x")
    del body["message"]["text"]
    converted = convert(body)
    assert converted is not None and converted.inbound is not None
    assert converted.inbound.text is None


def test_a_press_carries_its_payload_query_and_pressed_message() -> None:
    body = FakeBotApi().press(42, "lang:zh_Hans", message_id=1001, language_code=None)
    converted = convert(body)
    assert converted is not None and converted.inbound is not None
    assert converted.inbound.payload == "lang:zh_Hans"
    assert converted.inbound.language_hint is None
    assert converted.callback_query_id == body["callback_query"]["id"]
    assert converted.pressed_message_id == 1001
    assert converted.chat_id == 42


@pytest.mark.parametrize(("status", "reachable"), [("kicked", False), ("member", True)])
def test_blocking_and_unblocking_the_bot(status: str, reachable: bool) -> None:
    converted = convert(FakeBotApi().member(42, status))
    assert converted is not None
    assert (converted.user_id, converted.reachable, converted.inbound) == ("42", reachable, None)


def test_groups_and_other_kinds_of_update_are_ignored() -> None:
    body = FakeBotApi().text(42, "hi")
    body["message"]["chat"]["type"] = "group"
    assert convert(body) is None
    assert convert({"update_id": 1, "edited_message": {}}) is None


@pytest.mark.parametrize(
    "body",
    [
        {"update_id": 1, "message": {"from": {"id": 1}}},
        {
            "update_id": 1,
            "message": {"from": {"id": 1}, "chat": {"type": "private", "id": 1}, "text": 5},
        },
        {"update_id": 1, "callback_query": {"message": {"chat": {"type": "private"}}}},
    ],
)
def test_a_malformed_update_raises_for_the_channel_to_drop_it(body) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        convert(body)


def test_a_reply_s_buttons_go_as_the_keyboard_ptb_would_send() -> None:
    reply = Reply("选 <一个>", (Choice("是 & 对", "yes"), Choice("菜单", "menu")))
    arguments = message_arguments(reply)
    expected = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("是 & 对", callback_data="yes")],
            [InlineKeyboardButton("菜单", callback_data="menu")],
        ]
    )
    assert json.loads(arguments["api_kwargs"]["reply_markup"]) == expected.to_dict()
    assert arguments["text"] == "选 &lt;一个&gt;"
    assert "api_kwargs" not in message_arguments(Reply("好的"))
