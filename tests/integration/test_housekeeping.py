"""Answers to handled messages and handled updates are forgotten after a month."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.housekeeping import KEEP_HANDLED, tidy
from ffs_bot.db.tables import InboundUpdateRow, ProcessedInboundRow, utcnow
from ffs_bot.services.updates import mark_updates_done, store_updates
from tests.conftest import Backend
from tests.helpers import Chat


async def test_old_answers_and_handled_updates_go_recent_ones_stay(backend: Backend) -> None:
    chat = Chat(backend.conversations)
    await chat.send("/start", message_id="old")
    await chat.send("menu", message_id="new")
    async with backend.db.uow() as uow:
        stored = await store_updates(
            uow,
            "telegram",
            [
                ("1", "7", {"update_id": 1}),
                ("2", "7", {"update_id": 2}),
                ("3", "7", {"update_id": 3}),
            ],
        )
        await mark_updates_done(uow, [stored[0].id, stored[1].id])
        long_ago = utcnow() - KEEP_HANDLED - timedelta(days=1)
        await uow.session.execute(
            update(ProcessedInboundRow)
            .where(ProcessedInboundRow.external_id == "old")
            .values(created_at=long_ago)
        )
        await uow.session.execute(
            update(InboundUpdateRow)
            .where(InboundUpdateRow.external_id.in_(["1", "3"]))
            .values(done_at=long_ago)
        )
        # Update 3 is old but not handled: it must stay whatever its age.
        await uow.session.execute(
            update(InboundUpdateRow)
            .where(InboundUpdateRow.external_id == "3")
            .values(done_at=None, received_at=long_ago)
        )
        await uow.commit()

    assert await tidy(backend.db) == (1, 1)

    async with backend.db.uow() as uow:
        answers = list(await uow.session.scalars(select(ProcessedInboundRow.external_id)))
        updates = sorted(await uow.session.scalars(select(InboundUpdateRow.external_id)))
    assert answers == ["new"]
    assert updates == ["2", "3"]
