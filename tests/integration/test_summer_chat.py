"""Registering a child for the summer space in chat."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ffs_bot.db.tables import RegistrationRow, SeasonRow
from ffs_bot.services.seasons import create_season
from handlers.children import today
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_children import add_in_chat


async def season_at(
    backend: Backend, code: str, start: date, end: date, deadline: date, capacity: int = 10
) -> int:
    async with backend.db.uow() as uow:
        season = await create_season(
            uow,
            factory_code=code,
            starts_on=start,
            ends_on=end,
            min_age_years=3,
            max_age_years=12,
            capacity=capacity,
            registration_deadline=deadline,
        )
        await uow.commit()
    return season.id


async def open_season(backend: Backend, capacity: int = 10) -> None:
    year = today().year + 1
    await season_at(
        backend, "SZ01", date(year, 7, 5), date(year, 8, 20), date(year, 6, 30), capacity
    )


def plain(text: str) -> str:
    # Babel puts thin spaces around the dash of an English date range.
    return text.replace("\u2009", " ")


async def register_in_chat(chat: Chat, days: str | None = None) -> None:
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:register")
    child = next(p for p in chat.payloads if p.startswith("summer:child:"))
    await chat.press(child)
    if days is None:
        await chat.press("summer:whole")
    else:
        await chat.send(days)


async def test_register_for_the_whole_season_then_cancel(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("summer")
    assert "Places left: 10 of 10" in chat.text
    await chat.send("menu")
    await add_in_chat(chat, "Lily", "2019-05")
    await register_in_chat(chat)
    # The sentence once, then the list's short line.
    assert plain(chat.text) == (
        "Lily has a place, Jul 5 – Aug 20.\n\nRegistrations:\n• Lily, Jul 5 – Aug 20: has a place"
    )
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:cancel:")))
    await chat.press("summer:cancel:yes")
    assert "Cancelled." in chat.text and "None of your children is registered." in chat.text
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 0


async def test_a_full_space_puts_the_child_on_the_waiting_list(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    first = Chat(backend.conversations, user="first")
    await first.onboard()
    await add_in_chat(first, "Lily", "2019-05")
    await register_in_chat(first, "7/10-8/15")
    assert "Lily has a place, Jul 10 – Aug 15." in plain(first.text)
    second = Chat(backend.conversations, user="second")
    await second.onboard()
    await add_in_chat(second, "Ming", "2020-01")
    await register_in_chat(second)
    assert "Ming is number 1 on the waiting list" in second.text
    # Registering the same child again is refused, nothing added.
    await register_in_chat(second)
    assert "Ming is already registered for this space." in second.text
    async with backend.db.uow() as uow:
        assert len(list(await uow.session.scalars(select(RegistrationRow)))) == 2


async def test_dates_outside_the_season_and_a_child_too_young_are_explained(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await add_in_chat(chat, "Baby", f"{today().year}-01")
    await register_in_chat(chat, "6/1-8/15")
    assert "Please choose days between Jul 5 – Aug 20" in plain(chat.text)
    await chat.send("7/6-7/20")
    assert "children aged 3 to 12" in chat.text and "Baby is not in that range" in chat.text
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(RegistrationRow))) == []


async def test_without_a_season_or_children_the_person_is_told_what_to_do(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("summer")
    assert "No Family-Friendly Space at your factory is taking registrations now." in chat.text
    await open_season(backend)
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:register")
    assert "Add your child first" in chat.text
    await chat.press("children")
    assert "not added any children" in chat.text


async def test_register_for_chosen_weeks_with_buttons_only(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await add_in_chat(chat, "Lily", "2019-05")
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:register")
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:child:")))
    await chat.press("summer:weeks")
    assert "From which week?" in chat.text
    assert len([p for p in chat.payloads if p.startswith("summer:week:")]) == 7
    await chat.press("summer:week:1")
    assert "Until which week?" in chat.text
    assert chat.payloads[0] == "summer:week:1"  # not before the first one
    await chat.press("summer:week:0")  # an earlier week's old button
    assert "no longer active" in chat.text
    await chat.send("2")  # typing the number works as well as tapping: weeks 2 to 3
    assert "Lily has a place, Jul 12 – 25." in plain(chat.text)
    async with backend.db.uow() as uow:
        row = await uow.session.scalar(select(RegistrationRow))
    assert row is not None and (row.starts_on.day, row.ends_on.day) == (12, 25)


async def test_the_answer_to_a_registration_lists_the_whole_family_as_my_registrations_do(
    backend: Backend,
) -> None:
    # The list after registering is made from what the registration read, not read again.
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    other = Chat(backend.conversations, user="other")
    await other.onboard()
    await add_in_chat(other, "Bo", "2019-02")
    await register_in_chat(other, "7/20-8/1")
    chat = Chat(backend.conversations)
    await chat.onboard()
    await add_in_chat(chat, "Lily", "2019-05")
    await chat.send("menu")
    await add_in_chat(chat, "Ming", "2020-01")
    for name, days in (("Ming", None), ("Lily", "7/10-8/15")):
        await chat.send("menu")
        await chat.press("summer")
        await chat.press("summer:register")
        await chat.press(next(c.payload for c in chat.last[0].choices if c.label == name))
        if days is None:
            await chat.press("summer:whole")
        else:
            await chat.send(days)
    answer, buttons = plain(chat.text), chat.payloads
    assert answer.startswith("Lily is number 2 on the waiting list for Jul 10 – Aug 15.")
    listed = answer.split("\n\n", 1)[1]
    assert listed == (  # latest first
        "Registrations:\n"
        "• Lily, Jul 10 – Aug 15: waiting list, number 2\n"
        "• Ming, Jul 5 – Aug 20: waiting list, number 1"
    )
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:mine")
    assert (plain(chat.text), chat.payloads) == (listed, buttons)


async def test_two_seasons_taking_registrations_are_both_shown_and_either_can_be_chosen(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    year = today().year + 1
    winter = await season_at(
        backend, "SZ01", date(year, 1, 20), date(year, 2, 20), date(year, 1, 10)
    )
    summer = await season_at(
        backend, "SZ01", date(year, 7, 5), date(year, 8, 20), date(year, 6, 30)
    )
    elsewhere = await season_at(
        backend, "SZ02", date(year, 7, 5), date(year, 8, 20), date(year, 6, 30)
    )
    chat = Chat(backend.conversations)
    await chat.onboard()
    await add_in_chat(chat, "Lily", "2019-05")
    await chat.send("menu")
    await chat.press("summer")
    assert plain(chat.text).startswith("Family-Friendly Space: Jan 20 – Feb 20\n")
    assert "\n\nFamily-Friendly Space: Jul 5 – Aug 20\n" in plain(chat.text)
    assert [plain(c.label) for c in chat.last[0].choices][:2] == [
        "Register for Jan 20 – Feb 20",
        "Register for Jul 5 – Aug 20",
    ]
    # Another factory's season, or one that does not exist, is no button of this person's.
    for forged in (elsewhere, 999):
        await chat.press(f"summer:register:{forged}")
        assert "no longer active" in chat.text
        await chat.press("summer")
    await chat.press(f"summer:register:{summer}")
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:child:")))
    await chat.press("summer:whole")
    assert plain(chat.text).startswith("Lily has a place, Jul 5 – Aug 20.")
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(RegistrationRow.season_id))) == [summer]
    # In Chinese the buttons name the dates the same way.
    other = Chat(backend.conversations, user="zh")
    await other.onboard(language="zh_Hans")
    await other.press("summer")
    assert [c.label for c in other.last[0].choices][:2] == [
        "报名1月20日至2月20日这一期",
        "报名7月5日至8月20日这一期",
    ]
    assert other.payloads[:2] == [f"summer:register:{winter}", f"summer:register:{summer}"]
