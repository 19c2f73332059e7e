"""Hostile text at the workshop prompts: the door code, a comment, a planned workshop's day."""

from __future__ import annotations

from sqlalchemy import delete, select

from ffs_bot.db.tables import BookingRow, FeedbackRow, WorkshopRow
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_coordinator_chat import coordinator_chat
from tests.integration.test_hostile_input_children import feed
from tests.integration.test_workshop_chat import book_in_chat, plan


async def test_door_code_and_comment_prompts_take_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=5)
    chat = Chat(backend.conversations, language_code="zh-CN")
    await chat.onboard(language="zh_Hans", name="王姐")
    await book_in_chat(chat, workshop_id)
    zh = translators["zh_Hans"]

    async def to_door(chat: Chat) -> None:
        await chat.send("菜单")
        await chat.press("ws")
        await chat.press("ws:door")

    door = zh._("Type the door code posted at the workshop room, or your own booking code.")
    # Nothing in the list is the door code: nobody is checked in by accident.
    await feed(chat, naughty_strings, translators, "zh_Hans", door, to_door)
    async with backend.db.uow() as uow:
        booking = await uow.session.scalar(select(BookingRow))
        assert booking is not None and booking.checked_in_at is None
        booking.checked_in_at = booking.created_at  # as if they had come
        await uow.commit()

    async def to_comment(chat: Chat) -> None:
        # Forget the last rating, so the push's button asks for a comment again.
        async with backend.db.uow() as uow:
            await uow.session.execute(delete(FeedbackRow))
            await uow.commit()
        await chat.send("菜单")
        await chat.press(f"wsr:{booking.id}:5")

    comment = zh._("Thank you! Anything else you want to tell us? Type it, or tap Skip.")
    taken = await feed(chat, naughty_strings[::3], translators, "zh_Hans", comment, to_comment)
    assert taken > 100  # most strings are a fine comment
    async with backend.db.uow() as uow:
        feedback = await uow.session.scalar(select(FeedbackRow))
    assert feedback is not None and feedback.rating == 5 and len(feedback.comment) <= 500


async def test_planning_prompts_take_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)

    async def to_when(chat: Chat) -> None:
        await chat.press("cancel")
        await chat.press("staff")
        await chat.press("staff.ws")
        await chat.press("sw:new")

    prompt = translators["en"]._("Which day and hours? For example 7/14 9:00-12:00.")
    await feed(chat, naughty_strings, translators, "en", prompt, to_when)
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(WorkshopRow))) == []
