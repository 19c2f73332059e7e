"""Typed answers: text is text at a typed question, and a wrong answer gets one short line."""

from __future__ import annotations

from sqlalchemy import select

from ffs_bot.db.tables import ChildRow
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories


async def test_a_typed_number_at_the_name_question_is_not_its_cancel_button(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="zh-CN")
    await chat.onboard(language="zh_Hans", name="王姐")
    for payload in ("children", "child:add", "childnotice:yes"):
        await chat.press(payload)
    # Shown as a word, so "1" is not the first choice.
    assert not chat.last[-1].numbered and chat.payloads == ["cancel"]
    await chat.send("1")
    assert "已取消" not in chat.text and chat.text.startswith("请用汉字或字母输入名字")
    assert chat.payloads == ["cancel"]
    # A part of the menu typed there neither opens it nor becomes the child's name.
    await chat.send("暑期托管")
    assert chat.text.startswith("“暑期托管”是菜单里的一项，不能当名字。")
    await chat.send("小明")
    assert "小明" in chat.text and "出生" in chat.text
    # Leaving is by the word (or the button).
    await chat.send("取消")
    assert "已取消" in chat.text
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(ChildRow))) == []


async def test_a_wrong_birth_month_gets_one_line_with_an_example_not_the_question_again(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="zh-CN")
    await chat.onboard(language="zh_Hans", name="王姐")
    for payload in ("children", "child:add", "childnotice:yes"):
        await chat.press(payload)
    await chat.send("小明")
    replies = await chat.send("2021-02-30")
    only_the_month = "只写年和月就行，不用写日，比如 2018-03 或 2018年3月。"
    assert len(replies) == 1 and replies[0].text == only_the_month
    assert chat.payloads == ["cancel"]
    await chat.send("2021-02")
    assert chat.payloads[0].startswith("gender:")


async def test_a_wrong_answer_to_the_privacy_notice_is_one_line_not_the_notice_again(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start")
    await chat.press("lang:en")
    await chat.send("SZ01")
    assert "Privacy notice" in chat.text
    replies = await chat.send("maybe")
    assert len(replies) == 1
    assert replies[0].text == "Please tap “I agree” or “No, thanks” below, or type yes or no."
    assert "Privacy notice" not in chat.text and "consent:yes" in chat.payloads
    await chat.send("yes")
    assert "What should we call you?" in chat.text
