"""Parenting tips: matched to the children's ages, no repeats, sent once on schedule, rated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.housekeeping import send_tips
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import OutboxRow, TipDeliveryRow, TipSubscriptionRow
from ffs_bot.db.uow import Database
from ffs_bot.errors import Forbidden
from ffs_bot.messages import replies_from_json
from ffs_bot.model import Relationship
from ffs_bot.services import tips
from ffs_bot.services.children import add_child
from ffs_bot.services.people import find_identity, set_language, touch_identity
from ffs_bot.services.tips import Frequency
from ffs_bot.tips import parse_library
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_coordinator_chat import coordinator_chat

NOW = datetime(2027, 7, 12, 4, 0, tzinfo=UTC)  # a Monday, 12:00 in Shenzhen
LIBRARY = "\n".join(
    f"""- id: {tip_id}
  topic: {topic}
  ages: {ages}
  zh: 中文提示{tip_id}
  en: English tip {tip_id}"""
    for tip_id, topic, ages in [
        ("baby-1", "emotions", "0-35"),
        ("baby-2", "safety", "0-35"),
        ("teen-1", "school", "144-216"),
        ("kid-1", "keeping-close", "36-143"),
        ("kid-2", "safety", "36-143"),
        ("kid-3", "school", "36-143"),
        ("me-1", "parent-wellbeing", "parent"),
        ("me-2", "parent-wellbeing", "parent"),
    ]
)


async def load(backend: Backend) -> None:
    entries, errors = parse_library(LIBRARY)
    assert not errors
    async with backend.db.uow() as uow:
        assert await tips.import_tips(uow, entries) == (8, 0)
        assert await tips.import_tips(uow, entries[:2]) == (0, 2)  # again: updated by id
        await uow.commit()


async def parent(backend: Backend, user: str, born: tuple[int, int] | None) -> int:
    async with backend.db.uow() as uow:
        person, _ = await touch_identity(uow, "console", user)
        await set_language(uow, person.id, "en")
        if born is not None:
            await add_child(
                uow,
                person_id=person.id,
                name="Kid",
                birth_year=born[0],
                birth_month=born[1],
                gender=None,
                relationship=Relationship.MOTHER,
                today=NOW.date(),
            )
        await uow.commit()
    return person.id


async def take(backend: Backend, translators, person: int, minute: int = 0) -> str:
    async with backend.db.uow() as uow:
        at = NOW + timedelta(minutes=minute)
        reply = await tips.take_tip(uow, translators["en"], person, now=at)
        await uow.commit()
    assert reply is not None
    return reply.text.split("\n")[0]


async def test_tips_fit_the_childrens_ages_and_do_not_repeat_until_all_were_sent(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    await load(backend)
    school_age = await parent(backend, "kid", (2019, 5))  # eight years old
    no_children = await parent(backend, "alone", None)
    first_round = [await take(backend, translators, school_age, n) for n in range(3)]
    assert sorted(first_round) == ["English tip kid-1", "English tip kid-2", "English tip kid-3"]
    # All three were sent: the next is the one sent longest ago.
    assert await take(backend, translators, school_age, 3) == first_round[0]
    alone = {await take(backend, translators, no_children) for _ in range(2)}
    assert alone == {"English tip me-1", "English tip me-2"}


async def test_scheduled_tips_go_once_at_the_chosen_hour_and_move_on(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    await load(backend)
    people = [await parent(backend, f"p{n}", (2019, 5)) for n in range(20)]
    async with backend.db.uow() as uow:
        for person in people:
            made = await tips.subscribe(uow, person, Frequency.DAILY, 20, now=NOW)
        await uow.commit()
    assert made.next_at == datetime(2027, 7, 12, 12, 0, tzinfo=UTC)  # 20:00 in Shenzhen
    async with backend.db.uow() as uow:
        assert await tips.send_due_tips(uow, translators, now=NOW) == 0  # not yet
        # Pretend the hour has come (the worker uses the real clock).
        await uow.session.execute(
            update(TipSubscriptionRow).values(next_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    other_engine = create_engine(backend.url)
    try:
        other = Database(create_session_factory(other_engine))
        counts = await asyncio.gather(
            send_tips(backend.db, translators), send_tips(other, translators)
        )
    finally:
        await other_engine.dispose()
    async with backend.db.uow() as uow:
        queued = await uow.session.scalar(select(func.count()).select_from(OutboxRow))
        delivered = await uow.session.scalar(select(func.count()).select_from(TipDeliveryRow))
        later = list(await uow.session.scalars(select(TipSubscriptionRow.next_at)))
        row = await uow.session.scalar(select(OutboxRow))
    assert sum(counts) == queued == delivered == 20
    assert all(at > datetime.now(UTC) and at.astimezone(UTC).hour == 12 for at in later)
    assert row is not None
    reply = replies_from_json(row.content)[0]
    assert reply.text.startswith("English tip kid-") and "Was this helpful?" in reply.text
    assert [c.payload.split(":")[1] for c in reply.choices] == ["y", "n"]


async def test_stopped_tips_are_not_sent(backend: Backend, translators) -> None:
    await seed_factories(backend.db)
    await load(backend)
    person = await parent(backend, "p", None)
    async with backend.db.uow() as uow:
        await tips.subscribe(uow, person, Frequency.WEEKLY, 8, now=NOW)
        assert await tips.stop_tips(uow, person)
        assert not await tips.stop_tips(uow, person)  # twice
        await uow.session.execute(
            update(TipSubscriptionRow).values(next_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    assert await send_tips(backend.db, translators) == 0


async def test_tips_in_chat_with_helpful_answers_and_figures(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    await load(backend)
    chat = Chat(backend.conversations, user="worker")
    await chat.onboard()
    await chat.press("tips")
    await chat.press("tips:more")
    tip = chat.last[0]
    assert tip.text.startswith("English tip me-") and "Was this helpful?" in tip.text
    yes = tip.choices[0].payload
    await chat.press("tips:setup")
    await chat.press("tips:often:twice_weekly")
    await chat.send("23")
    assert "from 7 to 21" in chat.text
    await chat.send("20点")
    assert "The first tip comes on" in chat.text and "at 20:00" in chat.text
    assert "twice a week" in chat.text
    await chat.press(yes)  # from the earlier message, whatever the step
    assert chat.text == "Thank you for telling us!"
    await chat.press(yes)
    assert chat.text == "You have answered already."
    other = Chat(backend.conversations, user="other")
    await other.onboard()
    await other.press(yes)  # not their tip
    assert "no longer active" in other.text
    async with backend.db.uow() as uow:
        by_tip, by_topic = await tips.tip_figures(uow)
        with pytest.raises(Forbidden):
            await tips.tip_figures(uow, await find_person(uow, "other"))
    assert [(f.key, f.sent, f.helpful) for f in by_topic if f.sent] == [("parent-wellbeing", 1, 1)]
    assert len(by_tip) == 8


async def test_staff_see_tip_figures_in_chat_and_workers_do_not(backend: Backend) -> None:
    await seed_factories(backend.db)
    await load(backend)
    worker = Chat(backend.conversations, user="worker")
    await worker.onboard()
    await worker.press("tips:more")  # from the main menu: not a button there
    await worker.press("tips.figures")
    assert "no longer active" in worker.text
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    await coordinator.press("tips.figures")
    # Topics by their names, never the library's keys.
    assert "• Looking after yourself: sent 0, helpful 0, not helpful 0" in coordinator.text
    assert "parent-wellbeing" not in coordinator.text
    await coordinator.press("staff")
    assert "Which season?" in coordinator.text or "No Family-Friendly Space" in coordinator.text


async def test_tip_figures_name_topics_and_tips_in_chinese_not_keys_or_ids(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await load(backend)
    coordinator = await coordinator_chat(backend, language="zh_Hans")
    await coordinator.press("tips")
    await coordinator.press("tips:more")
    await coordinator.press(coordinator.last[0].choices[0].payload)  # helpful
    await coordinator.send("菜单")
    await coordinator.press("staff")
    await coordinator.press("tips.figures")
    assert "• 照顾好自己：发出1次，有用1次，没用0次" in coordinator.text
    # The helpful tip by its own first words (here "中文提示" and its id), in Chinese.
    assert "• 中文提示me-" in coordinator.text and "：1次里1次有用" in coordinator.text
    for key in ("parent-wellbeing", "keeping-close", "• me-"):
        assert key not in coordinator.text, key


async def test_a_tip_comes_in_the_readers_language_with_its_follow_up_question(
    backend: Backend, translators
) -> None:
    entries, errors = parse_library(
        """- id: talk-1
  topic: keeping-close
  ages: parent
  zh: 每天打个电话。
  en: Call every day.
  follow_up:
    zh: 今天什么时候你最开心？
    en: When were you happiest today?"""
    )
    assert not errors
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        await tips.import_tips(uow, entries)
        await uow.commit()
    person = await parent(backend, "alone", None)
    async with backend.db.uow() as uow:
        english = await tips.take_tip(uow, translators["en"], person, now=NOW)
        chinese = await tips.take_tip(uow, translators["zh_Hans"], person, now=NOW)
        await uow.commit()
    assert english is not None and chinese is not None
    assert english.text.split("\n\n") == [
        "Call every day.",
        "💬 When were you happiest today?",
        "Was this helpful?",
    ]
    assert chinese.text.split("\n\n") == [
        "每天打个电话。",
        "💬 今天什么时候你最开心？",
        "这条对您有用吗？",
    ]


async def find_person(uow, user: str) -> int:
    """The id of the console user's person."""
    found = await find_identity(uow, "console", user)
    assert found is not None
    return found[0].id
