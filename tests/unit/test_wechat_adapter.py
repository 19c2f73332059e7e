"""Reading WeChat messages into Inbounds, and replies into WeChat-sized texts."""

from __future__ import annotations

import pytest

from bot.wechat.adapter import Keys, Refused, convert, open_envelope, verify_server
from bot.wechat.render import MAX_TEXT_BYTES, split_text, wechat_texts
from ffs_bot.messages import Choice, Reply
from tests.wechat_harness import APP_ID, TOKEN, event_xml, sign, text_xml


def test_a_text_message_becomes_an_inbound_keyed_by_its_msgid() -> None:
    message = convert(text_xml("o-1", "菜单", 123, 1_700_000_000))
    assert message.inbound is not None
    assert (message.inbound.text, message.inbound.message_id) == ("菜单", "123")
    assert message.inbound.channel == "wechat" and message.inbound.user_id == "o-1"


@pytest.mark.parametrize(
    ("event", "key", "text"),
    [
        ("subscribe", "", "/start"),
        ("subscribe", "qrscene_f-SZ01", "/start f-SZ01"),
        ("SCAN", "f-DG02", "/start f-DG02"),
        ("subscribe", "qrscene_c-ABC123", "/start c-ABC123"),
        # A scene that is not ours starts plainly.
        ("subscribe", "qrscene_promo-7", "/start"),
    ],
)
def test_following_and_scanning_start_with_the_scene(event: str, key: str, text: str) -> None:
    message = convert(event_xml("o-1", event, key, 1_700_000_000))
    assert message.inbound is not None and message.inbound.text == text
    assert message.event_id.startswith("o-1:1700000000:")


def test_menu_clicks_are_presses_and_unsubscribing_only_stops_pushes() -> None:
    click = convert(event_xml("o-1", "CLICK", "go:ws", 1_700_000_000))
    assert click.inbound is not None and click.inbound.payload == "go:ws"
    gone = convert(event_xml("o-1", "unsubscribe", "", 1_700_000_001))
    assert gone.inbound is None and gone.reachable is False


def test_presses_and_scans_in_one_second_differ_by_key_and_scene() -> None:
    at = 1_700_000_000
    ids = [
        convert(event_xml("o-1", event, key, at)).event_id
        for event, key in (
            ("CLICK", "go:ws"),
            ("CLICK", "go:tips"),
            ("SCAN", "f-SZ01"),
            ("SCAN", "f-DG02"),
            ("subscribe", "qrscene_f-SZ01"),
            ("subscribe", "qrscene_f-DG02"),
        )
    ]
    assert len(set(ids)) == len(ids)
    # WeChat's retry repeats everything: the same id.
    assert convert(event_xml("o-1", "CLICK", "go:ws", at)).event_id == ids[0]


def test_an_event_id_stays_within_its_column_and_long_keys_still_differ() -> None:
    long = [convert(event_xml("o-1", "CLICK", "k" * 200 + end, 1)).event_id for end in "ab"]
    assert all(len(i) <= 128 for i in long) and long[0] != long[1]
    assert long[0].startswith("o-1:1:click:kkk")


@pytest.mark.parametrize(
    "xml",
    [
        "",
        "<xml><unclosed>",
        "<xml><MsgType>text</MsgType><Content>x</Content></xml>",  # no sender
        "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>"
        "<CreateTime>soon</CreateTime></xml>",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>',
    ],
)
def test_unreadable_messages_raise_value_error(xml: str) -> None:
    with pytest.raises(ValueError):
        convert(xml)


def test_choices_are_numbered_and_short_replies_share_one_message() -> None:
    replies = [Reply("Saved."), Reply("What next?", (Choice("Menu", "menu"), Choice("帮助", "h")))]
    assert wechat_texts(replies) == ["Saved.\n\nWhat next?\n1. Menu\n2. 帮助"]


def test_long_text_is_split_at_line_ends_within_the_byte_limit() -> None:
    lines = [f"第{i}行：" + "字" * 50 for i in range(100)]
    pieces = split_text("\n".join(lines))
    assert len(pieces) > 1
    assert all(len(p.encode()) <= MAX_TEXT_BYTES for p in pieces)
    assert "\n".join(pieces) == "\n".join(lines)
    # One line longer than a message is cut by characters, none lost.
    one = "好" * 2000
    cut = split_text(one)
    assert "".join(cut) == one and all(len(p.encode()) <= MAX_TEXT_BYTES for p in cut)


def test_keys_without_a_token_cannot_be_made() -> None:
    with pytest.raises(ValueError):
        Keys("", "wx-app")


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "\udcff"},  # a byte that was not UTF-8, as the web server passes it on
        {"signature": "\ud800"},
        {"nonce": "随机"},
        {"nonce": "n" * 65},  # wider than the nonce is stored
        {"nonce": "n 1"},
        {"timestamp": "+1700000000"},
        {"timestamp": "1_700_000_000"},
    ],
)
def test_odd_query_values_are_refused_and_raise_nothing_else(change: dict[str, str]) -> None:
    at = 1_700_000_000
    query = {"timestamp": str(at), "nonce": "n1", **change}
    # Signed as they are: only their shape is wrong.
    query.setdefault("signature", sign(TOKEN, query["timestamp"], query["nonce"]))
    keys = Keys(TOKEN, APP_ID)
    with pytest.raises(Refused):
        verify_server(keys, query, now=at)
    with pytest.raises(Refused):
        open_envelope(keys, query, text_xml("o-1", "hi", 1, at).encode(), now=at)
