"""Workers book parent workshops in chat, get offers, check in at the door and rate them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ffs_bot.db.tables import BookingRow, FeedbackRow, OutboxRow
from ffs_bot.i18n import Translator
from ffs_bot.messages import replies_from_json
from ffs_bot.model import Bilingual
from ffs_bot.services import workshops
from ffs_bot.workshop_notices import when
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories


async def plan(
    backend: Backend,
    capacity: int,
    start: datetime | None = None,
    topic: str = "Calling home",
    *,
    now: datetime | None = None,
) -> int:
    start = start or datetime.now(UTC) + timedelta(days=3)
    async with backend.db.uow() as uow:
        made = await workshops.create_workshop(
            uow,
            now=now,
            factory_code="SZ01",
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            topic=topic,
            language="en",
            capacity=capacity,
            place=Bilingual("食堂二楼", "Canteen, 2nd floor"),
            trainer="Ms Chen",
        )
        await uow.commit()
    return made.id


async def book_in_chat(chat: Chat, workshop_id: int) -> None:
    await chat.send("menu")
    await chat.press("ws")
    await chat.press(f"ws:open:{workshop_id}")
    await chat.press("ws:book")


async def test_book_wait_get_offered_and_take_the_seat_from_anywhere(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=1)
    first = Chat(backend.conversations, user="first")
    second = Chat(backend.conversations, user="second")
    await first.onboard(name="Parent A")
    await second.onboard(name="Parent B")
    await first.press("ws")
    assert "Calling home (in English) · 1 seat left" in first.text
    await book_in_chat(first, workshop_id)
    assert "Booked: “Calling home”" in first.text and "booking code is" in first.text
    await first.press("ws:list")
    await first.press(f"ws:open:{workshop_id}")
    await first.press("ws:book")  # again
    assert "You have booked this workshop already." in first.text
    await book_in_chat(second, workshop_id)
    assert "You are number 1 on the waiting list" in second.text
    cancel = next(p for p in first.payloads if p.startswith("ws:cancel:"))
    await first.press(cancel)
    await first.press("ws:cancel:yes")
    assert first.text.endswith(": cancelled")  # still listed, with nothing left to cancel
    assert not [p for p in first.payloads if p.startswith("ws:cancel:")]
    async with backend.db.uow() as uow:
        (offer,) = list(await uow.session.scalars(select(OutboxRow)))
    assert offer.recipient == "second"
    yes = replies_from_json(offer.content)[0].choices[0].payload
    await second.send("menu")
    await second.press("children")  # somewhere else entirely
    await second.press(yes)
    assert "Booked: “Calling home”" in second.text
    await second.press(yes)
    assert "This offer has ended" in second.text
    # Booked again, the new booking takes the cancelled one's line.
    await book_in_chat(first, workshop_id)
    assert first.text.count("“Calling home”") == 2  # the answer, then the list's one line
    assert first.text.endswith(": waiting list, number 1")


async def test_a_chinese_reader_sees_the_workshop_language_in_chinese(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=5)
    chat = Chat(backend.conversations)
    await chat.onboard(language="zh_Hans")
    await chat.press("ws")
    assert "Calling home（英语课）" in chat.text and "English" not in chat.text
    await chat.press(f"ws:open:{workshop_id}")
    assert "语言：英语" in chat.text and "English" not in chat.text


async def test_check_in_at_the_door_then_rate_and_comment(backend: Backend) -> None:
    await seed_factories(backend.db)
    soon = datetime.now(UTC) + timedelta(minutes=30)
    workshop_id = await plan(backend, capacity=5, start=soon)
    chat = Chat(backend.conversations, user="worker")
    await chat.onboard(name="Parent A")
    await book_in_chat(chat, workshop_id)
    async with backend.db.uow() as uow:
        door = (await workshops.get_workshop(uow, workshop_id)).door_code
        booking = await uow.session.scalar(select(BookingRow))
    assert booking is not None
    await chat.send("menu")
    await chat.press("ws")
    await chat.press("ws:door")
    await chat.send("WRONG1")
    assert "That code is not right" in chat.text
    await chat.send(door.lower())
    assert "Welcome! You are checked in for “Calling home”." in chat.text
    # The feedback question's buttons, as the push after the workshop carries them.
    await chat.press(f"wsr:{booking.id}:9")
    assert "Please tap a number from 1 to 5." in chat.text
    await chat.press(f"wsr:{booking.id}:4")
    assert "Anything else you want to tell us?" in chat.text
    await chat.send("x" * 600)
    assert "under 500 characters" in chat.text
    await chat.send("Useful. More about homework, please.")
    assert "Thank you, we have read it." in chat.text
    await chat.press(f"wsr:{booking.id}:1")  # a second rating
    assert "You have answered already." in chat.text
    async with backend.db.uow() as uow:
        feedback = await uow.session.scalar(select(FeedbackRow))
    assert feedback is not None
    assert (feedback.rating, feedback.comment) == (4, "Useful. More about homework, please.")


async def test_someone_elses_or_unknown_workshop_buttons_change_nothing(backend: Backend) -> None:
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=5)
    owner = Chat(backend.conversations, user="owner")
    other = Chat(backend.conversations, user="other")
    await owner.onboard(name="Parent A")
    await other.onboard(name="Parent B")
    await book_in_chat(owner, workshop_id)
    async with backend.db.uow() as uow:
        booking = await uow.session.scalar(select(BookingRow))
    assert booking is not None
    for payload in (
        f"ws:cancel:{booking.id}",
        f"wso:yes:{booking.id}",
        f"wsr:{booking.id}:5",
        "ws:open:999",
        "wsr:x:1",
    ):
        await other.press(payload)
        assert "no longer active" in other.text, payload
    async with backend.db.uow() as uow:
        assert (await uow.session.get(BookingRow, booking.id)).status == "confirmed"  # type: ignore[union-attr]


async def test_the_answer_to_a_booking_lists_the_bookings_as_my_bookings_do(
    backend: Backend,
) -> None:
    # The list after booking comes from what the booking read, not read again.
    await seed_factories(backend.db)
    soon = datetime.now(UTC) + timedelta(days=2)
    full = await plan(backend, capacity=1, start=soon + timedelta(days=2))
    later = await plan(backend, capacity=5, start=soon + timedelta(days=1))
    sooner = await plan(backend, capacity=5, start=soon)
    other = Chat(backend.conversations, user="other")
    await other.onboard(name="Parent B")
    await book_in_chat(other, full)
    chat = Chat(backend.conversations)
    await chat.onboard()
    for workshop_id in (full, later, sooner):
        await book_in_chat(chat, workshop_id)
    answer, buttons = chat.text, chat.payloads
    assert answer.startswith("Booked: “Calling home”")
    listed = answer.split("\n\n", 1)[1]
    # The soonest first: the one just booked, then the later one, then the waiting list.
    _title, one, two, three = listed.split("\n")
    assert one.startswith("1. “Calling home”") and ": booked, booking code " in one
    assert two.startswith("2. “Calling home”") and ": booked, booking code " in two
    assert three.startswith("3. “Calling home”") and three.endswith(": waiting list, number 1")
    await chat.press("ws:list")
    await chat.press("ws:mine")
    assert (chat.text, chat.payloads) == (listed, buttons)


# What the list, its buttons and the note after booking say in each language.
SAID = {
    "en": {
        "title": "Your workshop bookings:",
        "booked": "“{topic}”, {when}: booked, booking code {code}",
        "offered": "“{topic}”, {when}: seat offered, answer below",
        "waiting": "“{topic}”, {when}: waiting list, number {n}",
        "note": "Booked: “{topic}”, {when}. Your booking code is {code}. "
        "We will remind you before it starts.",
    },
    "zh_Hans": {
        "title": "您报名的家长课堂：",
        "booked": "“{topic}”，{when}：已报名，预约码 {code}",
        "offered": "“{topic}”，{when}：有座位留给您，请在下面回答",
        "waiting": "“{topic}”，{when}：排队第{n}位",
        "note": "报名成功：“{topic}”，{when}。您的预约码是{code}。开课前我们会提醒您。",
    },
}
# The buttons name the workshop (its day and topic), never a line number.
BUTTONS = {
    "en": [
        "Yes, I take the seat: {offered}",
        "No, pass it on: {offered}",
        "Cancel: {booked}",
        "Cancel: {waiting}",
        "All workshops",
    ],
    "zh_Hans": [
        "要，我要这个座位：{offered}",
        "不要，让给别人：{offered}",
        "取消：{booked}",
        "取消：{waiting}",
        "所有家长课堂",
    ],
}


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
async def test_the_list_has_one_short_line_per_booking_and_no_second_confirmation(
    backend: Backend, translators: dict[str, Translator], language: str
) -> None:
    await seed_factories(backend.db)
    soon = datetime.now(UTC) + timedelta(days=2)
    offered = await plan(backend, capacity=1, start=soon, topic="Reading together")
    booked = await plan(backend, capacity=5, start=soon + timedelta(days=1), topic="Homework")
    waiting = await plan(backend, capacity=1, start=soon + timedelta(days=2), topic="Play")
    other = Chat(backend.conversations, user="other")
    await other.onboard(name="Parent B")
    for workshop_id in (offered, waiting):
        await book_in_chat(other, workshop_id)
    chat = Chat(backend.conversations)
    await chat.onboard(language=language)
    for workshop_id in (offered, waiting, booked):
        await book_in_chat(chat, workshop_id)
    async with backend.db.uow() as uow:
        shown = {w: await workshops.get_workshop(uow, w) for w in (offered, booked, waiting)}
        code = await uow.session.scalar(
            select(BookingRow.code).where(BookingRow.workshop_id == booked)
        )
    said = SAID[language]

    def say(what: str, workshop_id: int, **values: object) -> str:
        w = shown[workshop_id]
        start = when(translators[language], w.starts_at, w.ends_at, w.timezone)
        return said[what].format(topic=w.topic, when=start, **values)

    note = say("note", booked, code=code)
    title, line_booked = said["title"], "2. " + say("booked", booked, code=code)
    line_waiting = "3. " + say("waiting", waiting, n=1)
    # The new booking is told once, as the note; the list then has a short line for each.
    line_queued = "1. " + say("waiting", offered, n=1)
    assert chat.text == f"{note}\n\n{title}\n{line_queued}\n{line_booked}\n{line_waiting}"
    assert chat.text.count(note) == 1
    # The other person gives up the first seat: it is offered; the buttons match the numbers.
    await other.send("menu")
    await other.press("ws")
    await other.press("ws:mine")
    await other.press(next(p for p in other.payloads if p.startswith("ws:cancel:")))
    await other.press("ws:cancel:yes")
    await chat.send("menu")
    await chat.press("ws")
    await chat.press("ws:mine")
    line_offered = "1. " + say("offered", offered)
    assert chat.text == f"{title}\n{line_offered}\n{line_booked}\n{line_waiting}"
    named = {
        key: f"{translators[language].weekday_date(w.starts_at, w.timezone)} {w.topic}"
        for key, w in (
            ("offered", shown[offered]),
            ("booked", shown[booked]),
            ("waiting", shown[waiting]),
        )
    }
    assert [c.label for c in chat.last[-1].choices] == [
        label.format(**named) for label in BUTTONS[language]
    ]
    async with backend.db.uow() as uow:
        rows = await uow.session.scalars(select(BookingRow))
        ids = {(b.workshop_id, b.status): b.id for b in rows}
    offer = ids[offered, "offered"]
    assert chat.payloads == [
        f"wso:yes:{offer}",
        f"wso:no:{offer}",
        f"ws:cancel:{ids[booked, 'confirmed']}",
        f"ws:cancel:{ids[waiting, 'waitlisted']}",
        "ws:list",
    ]
