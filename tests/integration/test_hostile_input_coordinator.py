"""Hostile text at the coordinator's prompts: a new season's values and a decline reason."""

from __future__ import annotations

from sqlalchemy import select

from ffs_bot.db.tables import RegistrationRow, SeasonRow
from handlers.engine import FAILURE
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories, typed_season
from tests.integration.test_children import add_in_chat
from tests.integration.test_coordinator_chat import coordinator_chat
from tests.integration.test_hostile_input import assert_graceful
from tests.integration.test_hostile_input_children import feed
from tests.integration.test_summer_chat import open_season, register_in_chat


async def to_new_season(chat: Chat) -> None:
    await chat.press("cancel")
    await chat.press("staff")
    await chat.press("st:new")


async def to_place(chat: Chat) -> None:
    await to_new_season(chat)
    days, deadline = typed_season()
    for answer in (days, "3-12", "30", deadline):
        await chat.send(answer)


async def test_new_season_prompts_take_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)
    en = translators["en"]
    dates = en._("Type the first and last day, for example 7/5-8/20.")
    # "1" picks the Cancel button; nothing in the list is two days, so no season is made.
    await feed(chat, naughty_strings, translators, "en", dates, to_new_season)
    place = en._(
        "How do families find the room? For example: Building 3, 2nd floor, next to the "
        "canteen. Send - for none."
    )
    # Most strings are a fine description (the sponsors question follows, and each time the
    # form starts again): a sample keeps this quick; the whole list went through the dates.
    sample = naughty_strings[::4]
    taken = await feed(chat, sample, translators, "en", place, to_place)
    assert taken > len(sample) // 2
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(SeasonRow))) == []


async def test_the_decline_reason_takes_every_naughty_string(
    backend: Backend, translators, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    coordinator = await coordinator_chat(backend)
    families = []
    for n in range(3):
        family = Chat(backend.conversations, user=f"family{n}")
        await family.onboard(name=f"Parent {n}")
        await add_in_chat(family, f"Kid {n}", "2019-05")
        await register_in_chat(family)
        families.append(family)

    async def to_reason(chat: Chat) -> None:
        await chat.press("cancel")
        await chat.press("staff")
        await chat.press(next(p for p in chat.payloads if p.startswith("st:season:")))
        await chat.press("st:regs")
        await chat.press(next(p for p in chat.payloads if p.startswith("st:no:")))

    prompt = translators["zh_Hans"]._(
        "Type the reason the family will see, for example: the space is full."
    )
    failure = translators["zh_Hans"]._(FAILURE)
    await coordinator.press("language")
    await coordinator.press("lang:zh_Hans")
    taken = 0
    # "1" is the Cancel button's number: it cancels, as it should.
    for text in [s for s in naughty_strings if s.strip() and s != "1"][:40]:
        await to_reason(coordinator)
        assert prompt in coordinator.text
        await coordinator.send(text)
        assert_graceful(coordinator, text, "zh_Hans", failure)
        if prompt not in coordinator.text:
            taken += 1
            for family in families:  # the declined child is registered again
                await register_in_chat(family)
    async with backend.db.uow() as uow:
        declined = list(
            await uow.session.scalars(
                select(RegistrationRow.reason).where(RegistrationRow.status == "declined")
            )
        )
    assert taken > 20 and len(declined) == taken
    assert all(0 < len(reason) <= 200 and "\x00" not in reason for reason in declined)
