"""Buttons carrying ids no row can have get the stale-button answer, on both databases.

A modified app can send any callback data. An id past 31 bits is out of range for
PostgreSQL's INTEGER columns and one past 63 for SQLite's: sent to the database, either was
an error (and "something went wrong"). The walk in test_hostile_input_every_prompt forges
19-digit ids on every button on SQLite; this presses the buttons that carry ids, at the
places that take them, on PostgreSQL as well.
"""

from __future__ import annotations

import logging

import pytest

from handlers.engine import FAILURE
from handlers.payloads import MAX_ID, payload_id, record_id
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories

STALE = "That button is no longer active. Send menu to see your options."
HUGE = [str(MAX_ID + 1), str(2**63), "9" * 19, "9" * 400, "0", "٣", "１２"]
# Where a worker is (the section's button from the menu), and the buttons that take an id.
WORKER_BUTTONS = {
    "menu": ["offer:yes:{}", "offer:no:{}", "wso:yes:{}", "wso:no:{}", "wsr:{}:5", "tip:y:{}"],
    "ws": ["ws:open:{}"],
    "children": ["child:{}"],
    "summer": ["summer:cancel:{}", "summer:register:{}"],
}


@pytest.mark.parametrize("number", HUGE)
async def test_a_worker_pressing_an_id_no_row_has_is_told_the_button_is_stale(
    backend: Backend, number: str, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, user="w1")
    await chat.onboard()
    caplog.set_level(logging.ERROR)
    for place, buttons in WORKER_BUTTONS.items():
        for button in buttons:
            await chat.press(place)
            await chat.press(button.format(number))
            assert STALE in chat.text, (place, button, chat.text)
            assert FAILURE not in chat.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_record_ids_are_ascii_digits_a_column_holds() -> None:
    assert record_id("1") == 1 and record_id(str(MAX_ID)) == MAX_ID
    for text in ["", "0", "-1", "+1", " 1", "1 ", "1.0", "²", "١", "１", str(MAX_ID + 1)]:
        assert record_id(text) is None, text
    assert payload_id("ws:open:40", "ws:open:") == 40
    assert payload_id("ws:open:40", "ws:cancel:") is None
    assert payload_id("ws:open:" + "9" * 5000, "ws:open:") is None
