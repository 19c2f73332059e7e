"""Reading the console's JSON lines."""

from __future__ import annotations

import pytest

from bot.console import inbound_from_json, render_reply
from ffs_bot.messages import Choice, Reply, replies_from_json, replies_to_json


def test_text_press_and_id_are_read() -> None:
    inbound = inbound_from_json('{"text": "菜单", "id": 7}', "u", "zh-CN")
    assert (inbound.text, inbound.payload, inbound.message_id) == ("菜单", None, "7")
    press = inbound_from_json('{"press": "lang:en", "id": "m-1"}', "u", None)
    assert (press.text, press.payload, press.message_id) == (None, "lang:en", "m-1")


@pytest.mark.parametrize(
    "line",
    [
        "[1]",
        "{}",
        '{"text": "a", "press": "b"}',
        '{"press": 5}',
        '{"text": "a", "id": true}',
        '{"text": "a", "id": "\\ud800"}',
        '{"text": "a", "id": "a\\u0000b"}',
        '{"text": "a", "id": "' + "x" * 65 + '"}',
        '{"text": "a", "id": ""}',
        '{"text": "a", "id": [1]}',
    ],
)
def test_lines_that_are_not_a_message_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        inbound_from_json(line, "u", None)


def test_choices_are_numbered() -> None:
    reply = Reply("Pick", (Choice("中文", "lang:zh_Hans"), Choice("English", "lang:en")))
    assert render_reply(reply) == "Pick\n  1. 中文\n  2. English"


def test_choices_of_a_question_asking_for_a_number_are_shown_as_words_and_stored_so() -> None:
    reply = Reply("How many places?", (Choice("取消", "cancel"),), numbered=False)
    assert render_reply(reply) == "How many places?\n  【取消】"
    assert replies_from_json(replies_to_json([reply])) == [reply]
    assert replies_from_json(replies_to_json([Reply("Pick")]))[0].numbered
