"""Broadcasts: the right people, their own language, once each; scheduled, cancelled, reported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.housekeeping import run_broadcasts
from ffs_bot.db.tables import BroadcastRow, FactoryRow, OutboxRow, PersonRow
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput
from ffs_bot.messages import replies_from_json
from ffs_bot.model import RoleName
from ffs_bot.outbox import settle_sent
from ffs_bot.services import broadcasts
from ffs_bot.services.broadcasts import Audience, AudienceKind
from ffs_bot.services.people import set_reachable
from tests.conftest import Backend
from tests.helpers import Chat, later_today, moment_text, seed_factories
from tests.integration.test_coordinator_chat import coordinator_chat
from tests.integration.test_season_admin import staff
from tests.integration.test_workshop_chat import plan


async def workers(backend: Backend) -> dict[str, int]:
    """Signed-up workers: two at SZ01 (zh, en), one at DG01, one at SZ01 who stopped us."""
    made = {}
    for user, language, factory in (
        ("zh1", "zh_Hans", "SZ01"),
        ("en1", "en", "SZ01"),
        ("dg1", "zh_Hans", "DG01"),
        ("gone", "zh_Hans", "SZ01"),
    ):
        chat = Chat(backend.conversations, user=user)
        await chat.onboard(language=language, factory=factory, name=f"Worker {user}")
    async with backend.db.uow() as uow:
        await set_reachable(uow, "console", "gone", reachable=False)
        await uow.commit()
        for person_id, user in await uow.session.execute(
            select(PersonRow.id, PersonRow.display_name)
        ):
            made[str(user).removeprefix("Worker ")] = person_id
    return made


async def factory_id(backend: Backend, code: str) -> int:
    async with backend.db.uow() as uow:
        found = await uow.session.scalar(select(FactoryRow.id).where(FactoryRow.code == code))
    assert found is not None
    return found


async def pushes(backend: Backend) -> dict[str, str]:
    async with backend.db.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.broadcast_id.is_not(None))
        )
        return {row.recipient: replies_from_json(row.content)[0].text for row in rows}


async def test_each_worker_at_the_factory_gets_their_language_once_and_stopped_none(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    await workers(backend)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    sz01 = await factory_id(backend, "SZ01")
    audience = Audience(AudienceKind.FACTORIES, (sz01,))
    dg01 = await factory_id(backend, "DG01")
    async with backend.db.uow() as uow:
        assert await broadcasts.audience_languages(uow, coordinator, audience) == {
            "zh_Hans": 1,
            "en": 1,
        }
        with pytest.raises(Forbidden):
            await broadcasts.create_broadcast(
                uow,
                coordinator,
                text_zh="x",
                text_en="",
                audience=Audience(AudienceKind.FACTORIES, (dg01,)),
            )
        with pytest.raises(Forbidden):
            await broadcasts.create_broadcast(
                uow, coordinator, text_zh="x", text_en="", audience=Audience(AudienceKind.EVERYONE)
            )
        with pytest.raises(InvalidInput):
            await broadcasts.create_broadcast(
                uow, coordinator, text_zh=" ", text_en="", audience=audience
            )
        made = await broadcasts.create_broadcast(
            uow,
            coordinator,
            text_zh="周日托管班开放日",
            text_en="Open day at the space on Sunday",
            audience=audience,
        )
        await uow.commit()
    assert made.recipients == 2
    assert await pushes(backend) == {
        "zh1": "周日托管班开放日",
        "en1": "Open day at the space on Sunday",
    }
    # A worker who is not staff cannot broadcast at all.
    worker = Chat(backend.conversations, user="zh1")
    await worker.press("bc")
    assert "这个按钮已经失效了" in worker.text


async def test_a_scheduled_broadcast_goes_once_can_be_cancelled_and_is_reported(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    await workers(backend)
    admin = await staff(backend, "admin", RoleName.ADMIN)
    later = datetime.now(UTC) + timedelta(hours=2)
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput, match="send_at"):
            await broadcasts.create_broadcast(
                uow,
                admin,
                text_zh="",
                text_en="too late",
                audience=Audience(AudienceKind.EVERYONE),
                send_at=datetime.now(UTC) - timedelta(minutes=1),
            )
        kept = await broadcasts.create_broadcast(
            uow,
            admin,
            text_zh="",
            text_en="Hello all",
            audience=Audience(AudienceKind.EVERYONE),
            send_at=later,
        )
        dropped = await broadcasts.create_broadcast(
            uow,
            admin,
            text_zh="取消",
            text_en="",
            audience=Audience(AudienceKind.EVERYONE),
            send_at=later,
        )
        await broadcasts.cancel_broadcast(uow, admin, dropped.id)
        with pytest.raises(ConflictError):
            await broadcasts.cancel_broadcast(uow, admin, dropped.id)
        await uow.commit()
    assert await run_broadcasts(backend.db, translators) == 0  # not yet
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(BroadcastRow).values(send_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    # Two workers at once: queued once.
    await asyncio.gather(
        run_broadcasts(backend.db, translators), run_broadcasts(backend.db, translators)
    )
    sent = await pushes(backend)
    assert sent == {"zh1": "Hello all", "en1": "Hello all", "dg1": "Hello all"}
    async with backend.db.uow() as uow:
        figures = await broadcasts.progress(uow, admin, kept.id)
        assert (figures.recipients, figures.queued, figures.sent) == (3, 3, 0)
        for row in list(await uow.session.scalars(select(OutboxRow))):
            await uow.session.execute(
                update(OutboxRow).where(OutboxRow.id == row.id).values(status="sending")
            )
            await settle_sent(uow, row.id)
        await uow.commit()
    assert await run_broadcasts(backend.db, translators) == 1
    async with backend.db.uow() as uow:
        figures = await broadcasts.progress(uow, admin, kept.id)
        report = await uow.session.scalar(select(OutboxRow).where(OutboxRow.recipient == "admin"))
    assert (figures.status, figures.sent) == ("sent", 3)
    assert report is not None
    assert "成功3条，失败0条，被屏蔽0条" in replies_from_json(report.content)[0].text  # Chinese


async def test_broadcast_in_chat_with_preview_and_progress(backend: Backend) -> None:
    await seed_factories(backend.db)
    await workers(backend)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("bc")
    await chat.send("-")
    await chat.send("-")
    assert "There is no message to send" in chat.text
    await chat.send("x" * 1001)
    assert "under 1000 characters" in chat.text
    await chat.send("周日下午三点，食堂二楼开会。")
    await chat.send("-")
    sz01 = await factory_id(backend, "SZ01")
    await chat.press(f"bc:f:{await factory_id(backend, 'DG01')}")  # not theirs
    assert "no longer active" in chat.text
    await chat.press(f"bc:f:{sz01}")
    # The two workers, and the coordinator, who signed up at SZ01 too.
    assert "This goes to 3 people:" in chat.text and "• in English: 2" in chat.text
    assert "Everyone gets the one text you wrote." in chat.text
    await chat.press("bc:now")
    assert "Sending to 3 people." in chat.text
    assert "people 3 · queued 3 · sent 0" in chat.text
    # The report says what a restart mid-send can do (the outbox's at-least-once bound).
    assert "may get it twice. Nobody is missed." in chat.text
    await chat.press("bc:refresh")
    assert chat.last[-1].edit
    await chat.press("bc:new")
    await chat.send("Later")
    await chat.send("Later")
    await chat.press(f"bc:f:{sz01}")
    await chat.press("bc:later")
    await chat.send("tomorrow")
    assert "for example 7/14 18:00" in chat.text
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    yesterday = local - timedelta(days=1)
    # Yesterday is refused with the reason, not read as next year's day.
    await chat.send(f"{yesterday.month}/{yesterday.day} 18:00")
    assert "That time has passed." in chat.text
    tomorrow = (local + timedelta(days=1)).replace(hour=20, minute=0, second=0, microsecond=0)
    await chat.send(f"{tomorrow.month}/{tomorrow.day} 20:00")
    # Confirmed with its year and weekday in CLDR's words (Wed, Dec 9, 2026, 20:00).
    assert f"Scheduled for {moment_text(tomorrow, with_year=True)}." in chat.text
    cancel = next(p for p in chat.payloads if p.startswith("bc:cancel:"))
    # The button says which broadcast by its time, not by an id the person never saw.
    label = next(c.label for c in chat.last[-1].choices if c.payload == cancel)
    assert label.startswith("Cancel the one for ") and "#" not in label
    await chat.press(cancel)
    assert "Cancelled. Nobody got it." in chat.text
    await chat.press(cancel)
    assert "no longer active" in chat.text


async def test_the_audience_offers_a_workshop_later_today_before_the_next_ones(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    start = later_today()
    today = await plan(backend, 5, start, "Today", now=start - timedelta(minutes=1))
    later = [await plan(backend, 5, topic=f"Later {n}") for n in range(3)]  # in three days
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("bc")
    await chat.send("Bring the children's photos")
    await chat.send("-")
    # Today's workshop first, then the next ones, as many as fit (three).
    booked = [p for p in chat.payloads if p.startswith("bc:w:")]
    assert booked == [f"bc:w:{today}", f"bc:w:{later[0]}", f"bc:w:{later[1]}"]
    labels = [c.label for reply in chat.last for c in reply.choices]
    assert "Booked on “Today”" in labels
