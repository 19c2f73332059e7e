"""Hostile text at the children prompts: child's name, birth month and health notes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from ffs_bot.db.tables import ChildRow
from handlers.engine import FAILURE
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_hostile_input import assert_graceful


async def to_child_name(chat: Chat) -> None:
    await chat.press("cancel")  # from wherever the last string left the conversation
    await chat.press("children")
    await chat.press("child:add")
    await chat.press("childnotice:yes")


async def to_birth(chat: Chat) -> None:
    await to_child_name(chat)
    await chat.send("Lily")


async def to_health(chat: Chat) -> None:
    await chat.press("cancel")
    await chat.press("children")
    child = next(p for p in chat.payloads if p.startswith("child:") and p[6:].isdigit())
    await chat.press(child)
    await chat.press("cv:health")
    await chat.press("health:yes")


async def feed(
    chat: Chat,
    strings: list[str],
    translators,
    language: str,
    prompt: str,
    reenter: Callable[[Chat], Awaitable[None]],
) -> int:
    """Send every naughty string at a prompt; come back to it when one is taken. Count those."""
    failure = translators[language]._(FAILURE)
    await reenter(chat)
    assert prompt in chat.text, chat.text
    taken = 0
    for text in strings:
        await chat.send(text)
        assert_graceful(chat, text, language, failure)
        if prompt not in chat.text:
            taken += 1
            await reenter(chat)
            assert prompt in chat.text, (text, chat.text)
    return taken


async def test_child_name_and_birth_prompts_take_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="zh-CN")
    await chat.onboard(language="zh_Hans", name="王姐")
    zh = translators["zh_Hans"]
    name_prompt = zh._(
        "What do you call your child? A first name or nickname is enough "
        "(up to {limit} characters).",
        limit=30,
    )
    await feed(chat, naughty_strings, translators, "zh_Hans", name_prompt, to_child_name)
    birth_prompt = zh._(
        "When was {name} born? Type the year and month, for example 2018-03 or 2018年3月.",
        name="Lily",
    )
    # Nothing in the list is a year and month ("1" picks the Cancel button), so no child is
    # ever saved.
    await feed(chat, naughty_strings, translators, "zh_Hans", birth_prompt, to_birth)
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(ChildRow))) == []


async def test_health_notes_prompt_takes_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="en")
    await chat.onboard()
    await to_birth(chat)
    await chat.send("2020-02")
    await chat.press("gender:none")
    await chat.press("rel:mother")
    prompt = translators["en"]._(
        "Type the health or allergy notes (up to {limit} characters).", limit=200
    )
    taken = await feed(chat, naughty_strings, translators, "en", prompt, to_health)
    assert taken > 400  # most strings are fine notes; each was stored, then replaced
    async with backend.db.uow() as uow:
        notes = list(await uow.session.scalars(select(ChildRow.health_notes)))
    assert len(notes) == 1 and notes[0] and len(notes[0]) <= 200
    assert "\x00" not in notes[0]
