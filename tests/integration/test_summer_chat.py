"""Registering a child for the summer space in chat."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from ffs_bot.db.tables import RegistrationRow, SeasonRow
from ffs_bot.services.seasons import create_season, expire_offers
from handlers.children import today
from tests.conftest import Backend
from tests.helpers import Chat, days_text, seed_factories
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


def next_summer(start: tuple[int, int], end: tuple[int, int], language: str = "en") -> str:
    """Days of next year, month and day each, as the bot writes a span of them."""
    year = today().year + 1
    return days_text(date(year, *start), date(year, *end), language)


SEASON = ((7, 5), (8, 20))  # open_season's first and last day


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
    whole = next_summer(*SEASON)
    assert chat.text == (
        f"Lily has a place, {whole}.\n\nRegistrations:\n• Lily, {whole}: has a place"
    )
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:cancel:")))
    await chat.press("summer:cancel:yes")
    # Still listed, saying it was cancelled, with nothing left to cancel.
    assert chat.text == "Cancelled.\n\nRegistrations:\n" + f"• Lily, {whole}: cancelled"
    assert not [p for p in chat.payloads if p.startswith("summer:cancel:")]
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 0
    # Registered again, the new registration takes the cancelled one's line.
    await register_in_chat(chat)
    assert chat.text.endswith(f"Registrations:\n• Lily, {whole}: has a place")


async def test_a_full_space_puts_the_child_on_the_waiting_list(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    first = Chat(backend.conversations, user="first")
    await first.onboard()
    await add_in_chat(first, "Lily", "2019-05")
    await register_in_chat(first, "7/10-8/15")
    assert f"Lily has a place, {next_summer((7, 10), (8, 15))}." in first.text
    second = Chat(backend.conversations, user="second")
    await second.onboard()
    await add_in_chat(second, "Ming", "2020-01")
    await register_in_chat(second)
    assert "Ming is number 1 on the waiting list" in second.text
    # The same child again: told at once, before any days are asked, with other days offered.
    await second.send("menu")
    await second.press("summer")
    await second.press("summer:register")
    await second.press(next(p for p in second.payloads if p.startswith("summer:child:")))
    assert "Ming is already registered for this space." in second.text
    assert "Which days" not in second.text and "summer:whole" not in second.payloads
    change = next(p for p in second.payloads if p.startswith("summer:change:"))
    await second.press(change)
    assert "Which days" in second.text
    await second.send("7/10-7/20")
    assert f"Changed: Ming comes {next_summer((7, 10), (7, 20))}." in second.text
    async with backend.db.uow() as uow:
        rows = list(
            await uow.session.scalars(select(RegistrationRow).order_by(RegistrationRow.id))
        )
    # Nothing added, and the place in the queue kept: only the days moved.
    assert len(rows) == 2 and rows[1].status == "waitlisted"
    assert (rows[1].starts_on.month, rows[1].starts_on.day) == (7, 10)
    assert (rows[1].ends_on.month, rows[1].ends_on.day) == (7, 20)


async def test_dates_outside_the_season_and_a_child_too_young_are_explained(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await add_in_chat(chat, "Baby", f"{today().year}-01")
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:register")
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:child:")))
    # Too young is told at once, before any days are asked.
    assert "children aged 3 to 12" in chat.text and "Baby is not in that range" in chat.text
    assert "Which days" not in chat.text and "summer:whole" not in chat.payloads
    await chat.send("menu")
    await add_in_chat(chat, "Lily", "2019-05")
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:register")
    await chat.press(next(c.payload for r in chat.last for c in r.choices if c.label == "Lily"))
    await chat.send("6/1-8/15")
    # One line with what is wrong and an example; the days question is not asked twice.
    assert chat.text.startswith(f"Please choose days between {next_summer(*SEASON)}")
    assert "Which days" not in chat.text and "summer:whole" in chat.payloads
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
    assert f"Lily has a place, {next_summer((7, 12), (7, 25))}." in chat.text
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
    answer, buttons = chat.text, chat.payloads
    chosen, whole = next_summer((7, 10), (8, 15)), next_summer(*SEASON)
    assert answer.startswith(f"Lily is number 2 on the waiting list for {chosen}.")
    listed = answer.split("\n\n", 1)[1]
    assert listed == (  # latest first
        "Registrations:\n"
        f"• Lily, {chosen}: waiting list, number 2\n"
        f"• Ming, {whole}: waiting list, number 1"
    )
    await chat.send("menu")
    await chat.press("summer")
    await chat.press("summer:mine")
    assert (chat.text, chat.payloads) == (listed, buttons)


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
    winter_days, summer_days = next_summer((1, 20), (2, 20)), next_summer(*SEASON)
    assert chat.text.startswith(f"Family-Friendly Space: {winter_days}\n")
    assert f"\n\nFamily-Friendly Space: {summer_days}\n" in chat.text
    assert [c.label for c in chat.last[0].choices][:2] == [
        f"Register for {winter_days}",
        f"Register for {summer_days}",
    ]
    # Another factory's season, or one that does not exist, is no button of this person's.
    for forged in (elsewhere, 999):
        await chat.press(f"summer:register:{forged}")
        assert "no longer active" in chat.text
        await chat.press("summer")
    await chat.press(f"summer:register:{summer}")
    await chat.press(next(p for p in chat.payloads if p.startswith("summer:child:")))
    await chat.press("summer:whole")
    assert chat.text.startswith(f"Lily has a place, {summer_days}.")
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(RegistrationRow.season_id))) == [summer]
    # In Chinese the buttons name the dates the same way.
    other = Chat(backend.conversations, user="zh")
    await other.onboard(language="zh_Hans")
    await other.press("summer")
    assert [c.label for c in other.last[0].choices][:2] == [
        f"报名{next_summer((1, 20), (2, 20), 'zh_Hans')}这一期",
        f"报名{next_summer(*SEASON, 'zh_Hans')}这一期",
    ]
    assert other.payloads[:2] == [f"summer:register:{winter}", f"summer:register:{summer}"]


async def test_a_place_passed_on_or_left_to_lapse_stays_listed_with_why(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    chats = []
    for user, name in (("first", "Lily"), ("second", "Tom"), ("third", "Bo")):
        chat = Chat(backend.conversations, user=user)
        await chat.onboard()
        await add_in_chat(chat, name, "2019-05")
        await register_in_chat(chat)
        chats.append(chat)
    first, second, third = chats
    await first.press(next(p for p in first.payloads if p.startswith("summer:cancel:")))
    await first.press("summer:cancel:yes")
    await second.send("menu")
    await second.press("summer")
    await second.press("summer:mine")
    await second.press(next(p for p in second.payloads if p.startswith("offer:no:")))
    whole = next_summer(*SEASON)
    assert second.text.endswith(
        f"Registrations:\n• Tom, {whole}: cancelled, you passed on the place"
    )
    async with backend.db.uow() as uow:
        later = datetime.now(UTC) + timedelta(days=400)
        assert await expire_offers(uow, backend.notify, now=later) == 1
        await uow.commit()
    await third.send("menu")
    await third.press("summer")
    await third.press("summer:mine")
    assert third.text == (
        f"Registrations:\n• Bo, {whole}: cancelled, the place offered was not taken in time"
    )
