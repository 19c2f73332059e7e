"""The per-person rate limit: counted in the database, so it holds across processes."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import ConversationRow, utcnow
from ffs_bot.db.uow import Database
from handlers.engine import ConversationEngine, build_router
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories

LIMIT = 5
SLOW_DOWN = "You are sending messages very fast"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def limited(db: Database, translators) -> ConversationEngine:
    return ConversationEngine(db.uow, translators, build_router(), max_messages_per_minute=LIMIT)


async def stored_step(backend: Backend) -> tuple[str, dict, int]:
    async with backend.db.uow() as uow:
        row = await uow.session.scalar(select(ConversationRow))
        assert row is not None
        return row.step, dict(row.data), row.window_count


async def test_past_the_limit_one_slow_down_then_silence_and_no_change(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    chat = Chat(limited(backend.db, translators), language_code="en")
    await chat.send("/start")
    await chat.press("lang:en")
    for _ in range(LIMIT - 2):
        await chat.send("menu")
    before = await stored_step(backend)
    assert before[2] == LIMIT

    replies = await chat.send("SZ01")
    (warning,) = [r.text for r in replies]
    assert warning.startswith("You are sending messages very fast. I will read your messages")
    assert await chat.press("lang:zh_Hans") == []
    assert await chat.send("help") == []
    step, data, count = await stored_step(backend)
    assert (step, data) == before[:2]  # nothing the extra messages asked for was done
    assert count == LIMIT + 3

    # The next minute, messages are answered again.
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(ConversationRow).values(window_started_at=utcnow() - timedelta(seconds=61))
        )
        await uow.commit()
    await chat.send("SZ01")
    assert "privacy" in chat.text.lower()
    assert (await stored_step(backend))[2] == 1


async def test_a_redelivered_message_is_counted_once(backend: Backend, translators) -> None:
    chat = Chat(limited(backend.db, translators))
    await chat.send("/start", message_id="first")
    for _ in range(LIMIT * 2):
        await chat.send("/start", message_id="first")
    assert (await stored_step(backend))[2] == 1
    for n in range(LIMIT - 1):
        replies = await chat.send("menu", message_id=f"m{n}")
        assert SLOW_DOWN not in replies[0].text


async def test_two_processes_share_one_count(backend: Backend, translators) -> None:
    other = create_engine(backend.url)
    try:
        one = Chat(limited(backend.db, translators), user="flood", language_code="en")
        two_db = Database(create_session_factory(other))
        two = Chat(limited(two_db, translators), user="flood", language_code="en")
        answers = []
        for n in range(LIMIT + 3):
            answers.append(await (one if n % 2 else two).send("menu"))
    finally:
        await other.dispose()
    assert [SLOW_DOWN in r[0].text if r else None for r in answers] == [False] * LIMIT + [
        True,
        None,
        None,
    ]


async def test_a_cry_for_help_in_a_flood_still_gets_the_helplines(
    backend: Backend, translators
) -> None:
    chat = Chat(limited(backend.db, translators), language_code="en")
    for _ in range(LIMIT + 1):
        await chat.send("menu")
    replies = await chat.send("I want to die")
    assert len(replies) == 1 and "12356" in replies[0].text


async def test_other_people_are_not_slowed_by_one_flooding(backend: Backend, translators) -> None:
    engine = limited(backend.db, translators)
    flood = Chat(engine, user="flood", language_code="en")
    for _ in range(LIMIT + 2):
        await flood.send("menu")
    calm = Chat(engine, user="calm", language_code="en")
    assert SLOW_DOWN not in (await calm.send("/start"))[0].text


async def test_the_slow_down_says_from_when_messages_are_read_again(
    backend: Backend, translators
) -> None:
    chat = Chat(limited(backend.db, translators), language_code="zh-CN")
    for _ in range(LIMIT + 1):
        await chat.send("菜单")
    async with backend.db.uow() as uow:
        started = await uow.session.scalar(select(ConversationRow.window_started_at))
    assert started is not None
    (warning,) = chat.last
    assert "没回复的" in warning.text, warning.text
    # On the clock of the person's zone (Shanghai by default): the first whole minute after
    # the window, so a message sent in the minute told is read.
    told = re.search(r"(\d{1,2}):(\d{2})起", warning.text)
    assert told is not None, warning.text
    end = (started + timedelta(minutes=1)).astimezone(SHANGHAI)
    at = end.replace(hour=int(told[1]), minute=int(told[2]), second=0, microsecond=0)
    assert timedelta(0) <= at - end < timedelta(minutes=1), (at, end)
    # Told once a minute: what follows in the same minute is not read, and not answered.
    assert await chat.send("菜单") == []
