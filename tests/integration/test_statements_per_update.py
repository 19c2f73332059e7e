"""SQL statements per update on the main paths: a change that adds queries fails here.

Counted with SQLAlchemy's `before_cursor_execute` event, as `bench/scale.py` counts them on
databases of 1,000 and 100,000 families. Most updates take at most six statements; the few
that write several rows (a child, a registration, a booking) have their own budget,
explained beside it. A second person going through the same steps after the first takes
exactly as many: nothing grows with what others have done.

The budgets are SQLite's. Every update ends by saving the conversation's state and
recording the message's answer; PostgreSQL does both in one statement, so its budget is
one lower.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event

from ffs_bot.services.seasons import create_season
from ffs_bot.services.tips import import_tips
from ffs_bot.services.workshops import create_workshop
from ffs_bot.tips import parse_library
from handlers.children import today
from tests.conftest import REPO, Backend
from tests.helpers import Chat, seed_factories

TARGET = 6
# (label, typed text or None, pressed payload or None, budget above TARGET and why)
STEPS: list[tuple[str, str | None, str | None, int]] = [
    ("first contact", "/start f-SZ01", None, TARGET),
    ("language", None, "lang:zh_Hans", TARGET),
    ("consent", None, "consent:yes", TARGET),
    ("name", "王姐", None, TARGET),
    ("menu press", None, "children", TARGET),
    ("add a child", None, "child:add", TARGET),
    ("child notice", None, "childnotice:yes", TARGET),
    ("child's name", "小明", None, TARGET),
    ("birth month", "2019年3月", None, TARGET),
    ("gender", None, "gender:boy", TARGET),
    # The child, its consent, the guardian, the audit event (four tables, four inserts).
    ("relationship: child saved", None, "rel:mother", 7),
    ("menu typed", "菜单", None, TARGET),
    ("summer space", None, "summer", TARGET),
    ("register", None, "summer:register", TARGET),
    ("register: child", None, "summer:child:", TARGET),
    # The season held, read with the child and the family's registrations (the answer lists
    # them with the new one), the seat taken, the row inserted unless one is live, the audit
    # event.
    ("register: whole season", None, "summer:whole", 7),
    ("main menu", None, "menu", TARGET),
    ("workshops", None, "ws", TARGET),
    ("open a workshop", None, "ws:open:", TARGET),
    # The workshop held with its timezone and the person's bookings (to check overlaps and
    # to list them with the new one; on PostgreSQL the person locked in the same statement),
    # the seat taken, the row inserted unless its code or a live booking clashes, the audit
    # event. The reminders are the workshop's, scheduled when it was planned.
    ("book", None, "ws:book", 7),
    ("menu typed again", "菜单", None, TARGET),
    ("tips", None, "tips", TARGET),
    ("ask for a tip", None, "tips:more", TARGET),
    ("help", "帮助", None, TARGET),
]


async def _prepare(backend: Backend) -> None:
    await seed_factories(backend.db)
    year = today().year + 1
    now = datetime.now(UTC)
    async with backend.db.uow() as uow:
        await create_season(
            uow,
            factory_code="SZ01",
            starts_on=date(year, 7, 5),
            ends_on=date(year, 8, 20),
            min_age_years=3,
            max_age_years=12,
            capacity=20,
            registration_deadline=date(year, 6, 30),
        )
        await create_workshop(
            uow,
            factory_code="SZ01",
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=2),
            topic="和孩子视频聊天",
            language="zh_Hans",
            capacity=20,
        )
        library = (REPO / "ffs_bot/tips/starter.yaml").read_text(encoding="utf-8")
        entries, _errors = parse_library(library)
        await import_tips(uow, entries)
        await uow.commit()


async def _walk(backend: Backend, user: str) -> list[int]:
    chat = Chat(backend.conversations, user=user, language_code="zh-CN", channel="telegram")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    counts = []
    for label, text, press, _budget in STEPS:
        if press is not None and press.endswith(":"):  # an id from the last answer
            press = next(p for p in chat.payloads if p.startswith(press))
        event.listen(backend.engine.sync_engine, "before_cursor_execute", count)
        try:
            if press is None:
                await chat.send(text)
            else:
                await chat.press(press)
        finally:
            event.remove(backend.engine.sync_engine, "before_cursor_execute", count)
        assert chat.last, label
        counts.append(len(statements))
        statements.clear()
    return counts


async def test_statements_per_update_stay_within_budget_and_do_not_grow(
    backend: Backend,
) -> None:
    await _prepare(backend)
    first = await _walk(backend, "first")
    merged = 1 if backend.name == "postgresql" else 0
    over = {
        label: (count, budget - merged)
        for (label, _text, _press, budget), count in zip(STEPS, first, strict=True)
        if count > budget - merged
    }
    assert not over, over
    # The same steps after someone else took them cost the same.
    assert await _walk(backend, "second") == first
