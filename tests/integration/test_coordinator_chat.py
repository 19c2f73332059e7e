"""A coordinator runs a season in chat; families hear back through the outbox."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import select

from bot.console import render_reply
from ffs_bot.db.tables import OutboxRow, RegistrationRow, SeasonRow
from ffs_bot.messages import replies_from_json
from ffs_bot.model import RoleName
from ffs_bot.reports import programme_report
from ffs_bot.services.seasons import create_season
from ffs_bot.services.staff import grant_role
from handlers.children import today
from tests.conftest import Backend
from tests.helpers import (
    Chat,
    coming_season,
    days_text,
    moment_text,
    seed_factories,
    typed_day,
    typed_days,
    typed_season,
)
from tests.integration.test_children import add_in_chat
from tests.integration.test_summer_chat import SEASON, next_summer, open_season, register_in_chat


async def coordinator_chat(
    backend: Backend, code: str = "SZ01", user: str = "coord", language: str = "en"
) -> Chat:
    async with backend.db.uow() as uow:
        await grant_role(
            uow,
            channel="console",
            external_user_id=user,
            role=RoleName.COORDINATOR,
            factory_codes=[code],
        )
        await uow.commit()
    chat = Chat(backend.conversations, user=user)
    await chat.onboard(language=language, name="Coordinator Li")
    return chat


async def pushes(backend: Backend) -> list[tuple[str, str]]:
    async with backend.db.uow() as uow:
        rows = await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        return [(row.recipient, replies_from_json(row.content)[0].text) for row in rows]


async def test_workers_see_no_staff_menu_and_staff_buttons_do_nothing_for_them(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    worker = Chat(backend.conversations)
    await worker.onboard()
    assert "staff" not in worker.payloads
    for payload in ("staff", "st:new", "st:season:1", "st:ok:1", "st:in:1"):
        await worker.press(payload)
        assert "no longer active" in worker.text
    coordinator = await coordinator_chat(backend)
    assert "staff" in coordinator.payloads


async def test_open_a_season_in_chat_with_wrong_answers_on_the_way(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    assert "No Family-Friendly Space season yet" in chat.text
    await chat.press("st:new")
    assert "first and last day" in chat.text
    start, end = coming_season()
    await chat.send(typed_days(end, start))
    assert "the first before the last" in chat.text
    await chat.send(typed_days(start, end))
    await chat.send("12-3")
    assert "youngest first" in chat.text
    await chat.send("3-12")
    await chat.send("lots")
    assert "Please type a number" in chat.text
    await chat.send("２５")  # full-width digits, as Chinese keyboards type them
    await chat.send(typed_day(end + timedelta(days=20)))
    assert "on or before the season's last day" in chat.text
    await chat.send(typed_day(start - timedelta(days=5)))
    await chat.send("Building 3, 2nd floor")
    await chat.send("Toy Brand A, Toy Brand B")
    assert "Saved." in chat.text
    assert "places 0 of 25 held" in chat.text
    assert "Paid by: Toy Brand A, Toy Brand B" in chat.text
    assert "Place: Building 3, 2nd floor" in chat.text
    async with backend.db.uow() as uow:
        season = await uow.session.scalar(select(SeasonRow))
    assert season is not None
    assert (season.capacity, season.funding) == (25, "sponsor")
    assert (season.starts_on, season.ends_on) == (start, end)
    assert season.registration_deadline == start - timedelta(days=5)
    # Cancelling half-way saves nothing.
    await chat.press("staff")
    await chat.press("st:new")
    await chat.send(typed_days(start, end))
    await chat.send("cancel")
    async with backend.db.uow() as uow:
        assert len(list(await uow.session.scalars(select(SeasonRow)))) == 1


@pytest.mark.parametrize(("language", "cancel"), [("en", "Cancel"), ("zh_Hans", "取消")])
async def test_a_typed_one_is_one_place_and_cancel_goes_by_its_word(
    backend: Backend, language: str, cancel: str
) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend, language=language)
    await chat.press("staff")
    await chat.press("st:new")
    days, deadline = typed_season()
    await chat.send(days)
    await chat.send("3-12")
    # On text channels the places question shows its Cancel as a word, not as "1.".
    assert [render_reply(reply) for reply in chat.last][-1].endswith(f"\n  【{cancel}】")
    await chat.send("1")
    # Taken as one place; the next typed question's Cancel is a word too.
    assert not chat.last[-1].numbered and chat.payloads == ["cancel"]
    await chat.send(deadline)
    await chat.send("-")
    await chat.send("-")
    async with backend.db.uow() as uow:
        season = await uow.session.scalar(select(SeasonRow))
    assert season is not None and season.capacity == 1
    await chat.press("staff")
    await chat.press("st:new")
    await chat.send(days)
    await chat.send("3-12")
    await chat.send(cancel.lower())
    assert chat.text.startswith(("Cancelled.", "已取消")) and "staff" in chat.payloads
    async with backend.db.uow() as uow:
        assert len(list(await uow.session.scalars(select(SeasonRow)))) == 1


async def test_resuming_asks_the_question_again_and_keeps_the_half_filled_form(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("st:new")
    days, deadline = typed_season()
    await chat.send(days)
    await chat.send("3-12")
    asked = chat.last
    assert await backend.conversations.resume("console", "coord", None) == asked
    for answer in ("25", deadline, "-", "-"):
        await chat.send(answer)
    async with backend.db.uow() as uow:
        season = await uow.session.scalar(select(SeasonRow))
    assert season is not None
    assert (season.min_age_years, season.max_age_years, season.capacity) == (3, 12, 25)
    # Someone new is greeted as /start would greet them.
    (greeting,) = await backend.conversations.resume("console", "newcomer", "en")
    assert greeting.text.startswith("Hello!") and [c.payload for c in greeting.choices] == [
        "lang:en",
        "lang:zh_Hans",
    ]


async def test_confirm_and_decline_in_chat_tell_the_family(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    season_button = next(p for p in coordinator.payloads if p.startswith("st:season:"))
    await coordinator.press(season_button)
    await coordinator.press("st:edit")
    await coordinator.press("st:autoconfirm")
    assert "You confirm each place" in coordinator.text
    families = []
    for n, name in enumerate(("Lily", "Tom")):
        family = Chat(backend.conversations, user=f"family{n}")
        await family.onboard(name=f"Parent {name}")
        await add_in_chat(family, name, "2019-05")
        await register_in_chat(family)
        assert "The coordinator will confirm" in family.text
        families.append(family)
    await coordinator.press("st:back")
    await coordinator.press("st:regs")
    assert "1. Lily" in coordinator.text and "Family: Parent Lily" in coordinator.text
    # The buttons name the child: after a decision the lines renumber, the names do not.
    labels = [c.label for c in coordinator.last[-1].choices]
    assert labels[:4] == ["Confirm: Lily", "Decline: Lily", "Confirm: Tom", "Decline: Tom"]
    confirm = next(p for p in coordinator.payloads if p.startswith("st:ok:"))
    await coordinator.press(confirm)
    assert "Confirmed. The family has been told." in coordinator.text
    decline = next(p for p in coordinator.payloads if p.startswith("st:no:"))
    assert "1. Tom" in coordinator.text  # the one still to confirm comes first
    assert [c.label for c in coordinator.last[-1].choices][:2] == [
        "Confirm: Tom",
        "Decline: Tom",
    ]
    await coordinator.press(confirm)  # pressed twice
    assert "no longer active" in coordinator.text
    await coordinator.press(decline)
    await coordinator.send("x" * 300)
    assert "under 200 characters" in coordinator.text
    await coordinator.send("Tom is too young for this group")
    assert "Declined. The family has been told why." in coordinator.text
    told = await pushes(backend)
    assert [to for to, _text in told] == ["family0", "family1"]
    assert "Lily has a place" in told[0][1]
    assert "Tom is too young for this group" in told[1][1]
    # The reason is not only in the push: Tom's family finds it in their list.
    tom = families[1]
    await tom.send("menu")
    await tom.press("summer")
    await tom.press("summer:mine")
    whole = next_summer(*SEASON)
    assert tom.text == (
        f"Registrations:\n• Tom, {whole}: not accepted. Reason: Tom is too young for this group"
    )
    assert not [p for p in tom.payloads if p.startswith("summer:cancel:")]


async def test_a_freed_place_is_offered_and_taken_from_any_step(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    first = Chat(backend.conversations, user="first")
    second = Chat(backend.conversations, user="second")
    for chat, name in ((first, "Lily"), (second, "Tom")):
        await chat.onboard(name=f"Parent {name}")
        await add_in_chat(chat, name, "2019-05")
        await register_in_chat(chat)
    assert "number 1 on the waiting list" in second.text
    await first.press(next(p for p in first.payloads if p.startswith("summer:cancel:")))
    await first.press("summer:cancel:yes")
    ((to, offer),) = await pushes(backend)
    assert to == "second" and "A place has opened for Tom" in offer
    async with backend.db.uow() as uow:
        until = await uow.session.scalar(
            select(RegistrationRow.offer_expires_at).where(RegistrationRow.status == "offered")
        )
    assert until is not None
    # The deadline with its weekday in CLDR's words (Tue, Dec 8, 12:00), not 12/8/26, 12:00 PM.
    assert f"answer by {moment_text(until.replace(tzinfo=UTC))}." in offer
    await second.send("menu")
    await second.press("children")  # somewhere else entirely
    async with backend.db.uow() as uow:
        row = await uow.session.scalar(select(OutboxRow))
        assert row is not None
        yes = replies_from_json(row.content)[0].choices[0].payload
    await second.press(yes)
    assert "Tom has a place" in second.text
    await second.press(yes)  # the push's button, pressed again
    assert "This offer has ended" in second.text


async def test_check_children_in_and_out_on_todays_roster(backend: Backend) -> None:
    await seed_factories(backend.db)
    start = today() - timedelta(days=1)
    async with backend.db.uow() as uow:
        await create_season(
            uow,
            factory_code="SZ01",
            starts_on=start,
            ends_on=start + timedelta(days=30),
            min_age_years=3,
            max_age_years=12,
            capacity=5,
            registration_deadline=start + timedelta(days=20),
        )
        await uow.commit()
    family = Chat(backend.conversations, user="family")
    await family.onboard(name="Parent Lily")
    await add_in_chat(family, "Lily", "2019-05")
    await register_in_chat(family)
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:roster")
    assert "0 of 1 checked in" in coordinator.text
    check_in = next(p for p in coordinator.payloads if p.startswith("st:in:"))
    await coordinator.press(check_in)
    assert "1 of 1 checked in" in coordinator.text
    await coordinator.press(check_in)  # twice: the button is gone
    assert "no longer active" in coordinator.text
    await coordinator.send("menu")
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:roster")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:out:")))
    assert "out " in coordinator.text
    assert not [p for p in coordinator.payloads if p.startswith(("st:in:", "st:out:"))]


async def test_a_child_erased_after_check_in_stays_on_the_roster_and_in_the_counts(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    start = today() - timedelta(days=1)
    async with backend.db.uow() as uow:
        await create_season(
            uow,
            factory_code="SZ01",
            starts_on=start,
            ends_on=start + timedelta(days=30),
            min_age_years=3,
            max_age_years=12,
            capacity=5,
            registration_deadline=start + timedelta(days=20),
        )
        await uow.commit()
    family = Chat(backend.conversations, user="family")
    await family.onboard(name="Parent Lily")
    await add_in_chat(family, "Lily", "2019-05")
    await register_in_chat(family)
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:roster")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:in:")))
    assert "1 of 1 checked in" in coordinator.text

    async def report() -> dict[str, object]:
        async with backend.db.uow() as uow:
            found = await programme_report(uow, year=start.year)
        return found.to_json()

    before = await report()
    assert (before["children_confirmed"], before["children_attended"]) == (1, 1)
    # The family withdraws consent for Lily in the afternoon: her data goes, the day stays.
    await family.press("go:children")
    await family.press(next(p for p in family.payloads if p.startswith("child:")))
    await family.press("cv:remove")
    await family.press("rm:yes")
    assert await report() == before
    await coordinator.send("menu")
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:roster")
    assert "1 of 1 checked in" in coordinator.text
    assert "1. Erased child · in " in coordinator.text and "Lily" not in coordinator.text
    # She still goes home at the end of the day, checked out like every child.
    out = next(c for c in coordinator.last[-1].choices if c.payload.startswith("st:out:"))
    assert out.label == "Out: Erased child"
    await coordinator.press(out.payload)
    assert "out " in coordinator.text
    await coordinator.press("st:back")
    await coordinator.press("st:export")
    for kind in ("registrations", "attendance"):
        await coordinator.press(f"st:x:{kind}:csv")
        sent = coordinator.last[0].attachment
        assert sent is not None and coordinator.last[0].text == "1 row"
        text = sent.content.decode("utf-8")
        assert "Erased child" in text and "Lily" not in text, kind
    # Her parents are not named beside her row, and only her birth year is left.
    registrations = await coordinator.press("st:x:registrations:csv")
    sheet = registrations[0].attachment
    assert sheet is not None
    (row,) = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert (row["Child"], row["Guardians"], row["Birth month"]) == ("Erased child", "", "2019")
    assert row["Status"] == "Cancelled"


async def test_export_the_registrations_and_attendance_as_files_in_chat(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    family = Chat(backend.conversations, user="family")
    await family.onboard(name="Parent Lily")
    await add_in_chat(family, "Lily", "2019-05")
    await register_in_chat(family)
    coordinator = await coordinator_chat(backend, user="coord")
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:export")
    await coordinator.press("st:x:registrations:csv")
    sent = coordinator.last[0].attachment
    assert sent is not None and sent.filename.endswith(".csv")
    assert coordinator.last[0].text == "1 row"
    text = sent.content.decode("utf-8")
    assert text.startswith("\ufeff") and "Lily" in text and "Parent Lily" in text
    await coordinator.press("st:x:attendance:xlsx")
    sent = coordinator.last[0].attachment
    assert sent is not None and sent.content.startswith(b"PK")  # a zip: an XLSX file
    assert coordinator.last[0].text == "0 rows"
    # The stored answer keeps the file, so a re-delivered press gets it again.
    again = await coordinator.press("st:x:attendance:xlsx", message_id="export-1")
    repeat = await coordinator.press("st:x:attendance:xlsx", message_id="export-1")
    assert again[0].attachment == repeat[0].attachment


async def test_the_waiting_list_shows_offers_and_a_decline_returns_to_it(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=1)
    for user, name in (("first", "Lily"), ("second", "Tom")):
        family = Chat(backend.conversations, user=user)
        await family.onboard(name=f"Parent {name}")
        await add_in_chat(family, name, "2019-05")
        await register_in_chat(family)
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:waitlist")
    assert "1. Tom" in coordinator.text and "waiting" in coordinator.text
    assert not [p for p in coordinator.payloads if p.startswith("st:ok:")]
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:no:")))
    await coordinator.send("The space is full this year")
    assert "Declined. The family has been told why." in coordinator.text
    assert "Nobody is waiting." in coordinator.text  # back on the waiting list


async def test_staff_see_each_season_with_its_year_among_past_summers(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    async with backend.db.uow() as uow:
        await create_season(
            uow,
            factory_code="SZ01",
            starts_on=date(2018, 7, 9),
            ends_on=date(2018, 8, 17),
            min_age_years=3,
            max_age_years=12,
            capacity=30,
            registration_deadline=date(2018, 7, 1),
        )
        await uow.commit()
    year = today().year + 1
    for language in ("en", "zh_Hans"):
        # Each summer with its year (ours to decide), the latest first, in CLDR's words.
        this_summer = days_text(date(year, 7, 5), date(year, 8, 20), language, with_year=True)
        that_summer = days_text(date(2018, 7, 9), date(2018, 8, 17), language, with_year=True)
        chat = await coordinator_chat(backend, user=f"coord-{language}", language=language)
        await chat.press("staff")
        labels = [c.label for reply in chat.last for c in reply.choices]
        assert labels[:2] == [f"SZ01 {this_summer}", f"SZ01 {that_summer}"], labels
        await chat.press(next(p for p in chat.payloads if p.startswith("st:season:")))
        assert str(year) in chat.text.splitlines()[0]


def family_list(language: str) -> str:
    """A family's registration list, one short line each, all for the whole season."""
    days = next_summer(*SEASON, language)
    if language == "en":
        return (
            "Registrations:\n"
            f"• Ann, {days}: has a place\n"
            f"• Tim, {days}: the coordinator will confirm\n"
            f"• Lily, {days}: place offered, answer below\n"
            f"• Ming, {days}: waiting list, number 1"
        )
    return (
        "报名情况：\n"
        f"• Ann，{days}：有名额\n"
        f"• Tim，{days}：等项目负责人确认\n"
        f"• Lily，{days}：有名额留给您，请在下面回答\n"
        f"• Ming，{days}：排队第1位"
    )


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
async def test_the_family_list_has_a_short_line_per_child_and_the_news_once(
    backend: Backend, language: str
) -> None:
    await seed_factories(backend.db)
    await open_season(backend, capacity=3)
    other = Chat(backend.conversations, user="other")
    await other.onboard(name="Parent Bo")
    await add_in_chat(other, "Bo", "2019-02")
    await register_in_chat(other)
    family = Chat(backend.conversations, user="family")
    await family.onboard(name="Parent Ann")

    async def register(name: str) -> None:
        await family.send("menu")
        await add_in_chat(family, name, "2019-05")
        await family.send("menu")
        await family.press("summer")
        await family.press("summer:register")
        await family.press(next(c.payload for c in family.last[0].choices if c.label == name))
        await family.press("summer:whole")

    await register("Ann")
    # The coordinator now confirms each place: the next child is only requested.
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press(next(p for p in coordinator.payloads if p.startswith("st:season:")))
    await coordinator.press("st:edit")
    await coordinator.press("st:autoconfirm")
    for name in ("Tim", "Lily", "Ming"):
        await register(name)
    # The news is said once, then the list has its short line.
    days = next_summer(*SEASON)
    assert family.text == (
        f"Ming is number 2 on the waiting list for {days}. We will tell you if a place "
        f"opens.\n\nRegistrations:\n• Ann, {days}: has a place\n"
        f"• Tim, {days}: the coordinator will confirm\n"
        f"• Lily, {days}: waiting list, number 1\n"
        f"• Ming, {days}: waiting list, number 2"
    )
    await other.press(next(p for p in other.payloads if p.startswith("summer:cancel:")))
    await other.press("summer:cancel:yes")  # Bo's place is offered to Lily
    if language != "en":
        await family.press("language")
        await family.press(f"lang:{language}")
    await family.send("menu")
    await family.press("summer")
    await family.press("summer:mine")
    assert family.text == family_list(language)
    # A button for each line, in the same order; the offered place has Yes and No.
    labels = [c.label for c in family.last[0].choices]
    names = ["Ann", "Tim", "Lily", "Lily", "Ming"]
    assert all(name in label for name, label in zip(names, labels[:-1], strict=True))
