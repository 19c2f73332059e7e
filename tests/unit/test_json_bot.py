"""JsonBot: answers nobody reads are not parsed; every other answer and every error is PTB's."""

from __future__ import annotations

import pytest
from telegram import Message
from telegram.error import Forbidden

from bot.telegram.bot import JsonBot
from tests.fakes.telegram_api import FakeBotApi


@pytest.fixture
async def bot() -> JsonBot:
    api = FakeBotApi()
    api.blocked.add(99)
    made = JsonBot(
        token="123:TEST",
        base_url="http://fake.invalid/bot",
        request=api.request(),
        get_updates_request=api.request(),
    )
    await made.initialize()
    return made


async def test_a_sent_message_comes_back_as_true_and_is_not_parsed(
    bot: JsonBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(*_args: object) -> None:
        raise AssertionError("the answer was parsed")

    monkeypatch.setattr(Message, "de_json", parse)
    assert await bot.send_message(chat_id=5, text="你好") is True
    assert await bot.edit_message_reply_markup(chat_id=5, message_id=1) is True


async def test_other_answers_are_parsed_and_errors_still_raised(bot: JsonBot) -> None:
    document = await bot.send_document(chat_id=5, document=b"x", filename="a.csv", caption="c")
    assert isinstance(document, Message)
    assert document.caption == "c"
    assert bot.bot.username  # getMe, read when the bot was initialised
    with pytest.raises(Forbidden):
        await bot.send_message(chat_id=99, text="hi")
