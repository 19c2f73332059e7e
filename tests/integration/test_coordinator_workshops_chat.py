"""A coordinator plans a workshop in chat, checks parents in by code and cancels it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select, update

from ffs_bot.db.tables import BookingRow, OutboxRow, WorkshopRow
from ffs_bot.services import workshops
from tests.conftest import Backend
from tests.helpers import (
    Chat,
    days_from_today,
    hours_text,
    later_today,
    seed_factories,
    typed_day,
    weekday_text,
)
from tests.integration.test_coordinator_chat import coordinator_chat
from tests.integration.test_workshop_chat import book_in_chat, plan


async def test_plan_a_workshop_in_chat_with_wrong_answers_on_the_way(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("staff.ws")
    assert "No workshops yet." in chat.text
    await chat.press("sw:new")
    await chat.send("tomorrow morning")
    assert "at most 6 hours" in chat.text
    day = days_from_today(10)
    await chat.send(f"{typed_day(day)} 9:00-17:00")  # a whole day: too long for a half-day
    assert "at most 6 hours" in chat.text
    await chat.send(f"{typed_day(day)} 9:00-12:00")
    await chat.send("Keeping close by video call")
    # The language is a choice of two: buttons, not typing.
    assert {"sw:plan:language:zh_Hans", "sw:plan:language:en"} <= set(chat.payloads)
    await chat.send("Klingon")
    assert "Please tap a language." in chat.text
    await chat.press("sw:plan:language:zh_Hans")
    await chat.send("0")
    assert "from 1 to 500" in chat.text
    await chat.send("25个")
    await chat.send("培训室，食堂二楼")
    # Typed in Chinese alone: the English is asked next, and can be skipped with a button.
    assert "And in English" in chat.text
    await chat.press("sw:plan:place_en:")
    await chat.send("-")
    # The day was typed without a year: the answer says which, with its weekday.
    planned = f"{weekday_text(day, with_year=True)} {hours_text(time(9), time(12))}"
    assert f"Planned for {planned}. Workers at the factory can book it now." in chat.text
    assert "Seats 0 of 25 held" in chat.text and "Door code: " in chat.text
    async with backend.db.uow() as uow:
        row = await uow.session.scalar(select(WorkshopRow))
    assert row is not None and (row.language, row.trainer, row.capacity) == ("zh_Hans", "", 25)
    # Chinese punctuation kept as typed.
    assert (row.place, row.place_en) == ("培训室，食堂二楼", "")


async def test_check_in_by_code_then_cancel_and_everyone_is_told(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=1, start=datetime.now(UTC) + timedelta(minutes=30))
    other_id = await plan(backend, capacity=5)
    parents = []
    for n in range(2):
        parent = Chat(backend.conversations, user=f"parent{n}")
        await parent.onboard(name=f"Parent {n}")
        await book_in_chat(parent, workshop_id)
        parents.append(parent)
    elsewhere = Chat(backend.conversations, user="elsewhere")
    await elsewhere.onboard(name="Parent X")
    await book_in_chat(elsewhere, other_id)
    async with backend.db.uow() as uow:
        codes = {
            row.person_id: (row.code, row.status)
            for row in await uow.session.scalars(select(BookingRow).order_by(BookingRow.id))
        }
    (seat, _), (queued, _), (other, _) = codes.values()
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("staff.ws")
    await chat.press(f"sw:open:{workshop_id}")
    await chat.press("sw:bookings")
    assert f"1. Parent 0 · {seat} · booked" in chat.text
    assert f"2. Parent 1 · {queued} · waiting" in chat.text
    await chat.press("sw:back")
    await chat.press("sw:checkin")
    await chat.send("ZZZZ")
    assert "No booking has that booking code." in chat.text
    await chat.send(other)
    assert "That booking code is for another workshop." in chat.text
    await chat.send(queued)
    assert "they are waiting or cancelled" in chat.text
    await chat.send(seat.lower())
    assert "Checked in: Parent 0." in chat.text
    await chat.send(seat)
    assert "Already checked in." in chat.text
    await chat.press("sw:back")
    await chat.press("sw:x:csv")
    assert chat.last[0].attachment is not None and chat.last[0].text == "1 row"
    await chat.press("sw:cancel")
    await chat.press("sw:cancel:yes")
    assert "Cancelled. 2 people were told." in chat.text
    await chat.press("sw:cancel:yes")  # pressed twice
    assert "no longer active" in chat.text
    async with backend.db.uow() as uow:
        told = sorted(row.recipient for row in await uow.session.scalars(select(OutboxRow)))
    assert told == ["parent0", "parent1"]
    # The booking stays in the parent's list, saying why it ended.
    parent = parents[1]
    await parent.send("menu")
    await parent.press("ws")
    await parent.press("ws:mine")
    assert parent.text.startswith("Your workshop bookings:\n1. “Calling home”, ")
    assert parent.text.endswith(": cancelled, the workshop was called off")
    assert not [p for p in parent.payloads if p.startswith("ws:cancel:")]


async def test_edit_a_workshop_in_chat(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=5)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("staff.ws")
    await chat.press(f"sw:open:{workshop_id}")
    await chat.press("sw:edit")
    await chat.press("sw:field:capacity")
    await chat.send("0")
    assert "from 1 to 500" in chat.text
    await chat.send("1")  # one place, not the Cancel shown beside the question
    assert "Saved." in chat.text and "Seats 0 of 1 held" in chat.text
    await chat.press("sw:edit")
    await chat.press("sw:field:capacity")
    await chat.send("40")
    assert "Saved." in chat.text and "Seats 0 of 40 held" in chat.text
    await chat.press("sw:edit")
    await chat.press("sw:field:topic")
    await chat.send("Homework without fights")
    assert "Homework without fights" in chat.text
    # A new day, typed without a year, is confirmed with its year and weekday.
    day = days_from_today(20)
    await chat.press("sw:edit")
    await chat.press("sw:field:when")
    await chat.send(f"{typed_day(day)} 14:00-16:30")
    moved = f"{weekday_text(day, with_year=True)} {hours_text(time(14), time(16, 30))}"
    assert f"Saved: {moved}." in chat.text


async def test_one_check_in_rule_for_the_door_and_the_coordinator_and_either_code_at_the_door(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    later = await plan(backend, capacity=5, topic="Later")  # in three days
    soon = await plan(
        backend, capacity=5, start=datetime.now(UTC) + timedelta(minutes=30), topic="Soon"
    )
    worker = Chat(backend.conversations, user="worker")
    await worker.onboard(name="Parent A")
    neighbour = Chat(backend.conversations, user="neighbour")
    await neighbour.onboard(name="Parent B")
    for chat in (worker, neighbour):
        await book_in_chat(chat, later)
        await book_in_chat(chat, soon)
    async with backend.db.uow() as uow:
        codes = {
            (row.person_id, row.workshop_id): row.code
            for row in await uow.session.scalars(select(BookingRow).order_by(BookingRow.id))
        }
        door = (await workshops.get_workshop(uow, later)).door_code
    (worker_later, worker_soon), (neighbour_later, neighbour_soon) = (
        [codes[key] for key in sorted(codes) if key[0] == person]
        for person in sorted({person for person, _workshop in codes})
    )
    # The two codes have two names: the list shows the booking code as such.
    await worker.send("menu")
    await worker.press("ws")
    await worker.press("ws:mine")
    assert f"booked, booking code {worker_soon}" in worker.text
    rule = "Check-in opens an hour before the workshop starts and closes when it ends."
    await worker.send("menu")
    await worker.press("ws")
    await worker.press("ws:door")
    assert "door code posted at the workshop room, or your own booking code" in worker.text
    assert rule in worker.text
    # Too early, by the door code or by the booking code: the same rule, said.
    for code in (door, worker_later):
        await worker.send(code)
        assert worker.text.startswith(rule)
        await worker.press("ws:door")
    # Someone else's booking code is no code at all, even for a workshop open now.
    await worker.send(neighbour_soon)
    assert "That code is not right." in worker.text
    await worker.send(worker_soon.lower())
    assert "Welcome! You are checked in for “Soon”." in worker.text
    async with backend.db.uow() as uow:
        checked = {
            row.code: row.checked_in_at is not None
            for row in await uow.session.scalars(select(BookingRow))
        }
    assert checked == {
        worker_later: False,
        worker_soon: True,
        neighbour_later: False,
        neighbour_soon: False,
    }
    # The coordinator meets the same rule, stated the same way.
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press("staff.ws")
    await coordinator.press(f"sw:open:{later}")
    await coordinator.press("sw:checkin")
    assert rule in coordinator.text
    await coordinator.send(neighbour_later)
    assert coordinator.text.startswith(rule)
    await coordinator.press("sw:back")
    await coordinator.press("sw:list")
    await coordinator.press(f"sw:open:{soon}")
    await coordinator.press("sw:checkin")
    await coordinator.send(neighbour_soon)
    assert "Checked in: Parent B." in coordinator.text


async def test_the_workshop_list_starts_today_and_says_how_many_more_come(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    now = datetime.now(UTC)
    before = now - timedelta(days=10)
    held = await plan(backend, 5, before, "Held", now=before - timedelta(days=1))
    start = later_today()
    today = await plan(backend, 5, start, "Today", now=start - timedelta(minutes=1))
    coming = [await plan(backend, 5, now + timedelta(days=n + 1), f"Next {n}") for n in range(9)]
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("staff.ws")
    # Today's and the next seven, soonest first; the two further on are counted, not hidden.
    shown = [p for p in chat.payloads if p.startswith("sw:open:")]
    assert shown == [f"sw:open:{n}" for n in [today, *coming[:7]]]
    assert "Soonest first. 2 more come after these." in chat.text
    # With fewer to come, the recent past fills the list (its attendance is still wanted).
    gone = now - timedelta(days=60)  # out of the list's month of history
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(WorkshopRow)
            .where(WorkshopRow.id.in_(coming[:8]))
            .values(starts_at=gone, ends_at=gone + timedelta(hours=3))
        )
        await uow.commit()
    await chat.send("menu")
    await chat.press("staff")
    await chat.press("staff.ws")
    shown = [p for p in chat.payloads if p.startswith("sw:open:")]
    assert shown == [f"sw:open:{n}" for n in (today, coming[8], held)]
    assert "more come" not in chat.text
