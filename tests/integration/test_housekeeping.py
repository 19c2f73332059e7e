"""Clock jobs: old answers and updates forgotten after a month; lapsed offers passed on."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.housekeeping import KEEP_HANDLED, KEEP_SIGNED, every_minute, lapse_offers, tidy
from ffs_bot.db.tables import (
    InboundUpdateRow,
    ProcessedInboundRow,
    RegistrationRow,
    SeasonRow,
    SignedRequestRow,
    utcnow,
)
from ffs_bot.i18n import Translator
from ffs_bot.notices import FamilyNotifier
from ffs_bot.services.seasons import cancel_registration
from ffs_bot.services.signed_requests import bind
from ffs_bot.services.updates import mark_updates_done, store_updates
from ffs_bot.workshop_notices import WorkshopNotifier
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_seasons import families, register, season


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

    assert await tidy(backend.db) == (1, 1, 0)

    async with backend.db.uow() as uow:
        answers = list(await uow.session.scalars(select(ProcessedInboundRow.external_id)))
        updates = sorted(await uow.session.scalars(select(InboundUpdateRow.external_id)))
    assert answers == ["new"]
    assert updates == ["2", "3"]


async def test_offers_whose_time_is_up_lapse_and_pass_down_the_queue(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    people = await families(backend.db, 6)
    made = [await register(backend.db, p, k, season_id) for p, k in people]
    # An offer that lapses at once, as if the worker had been down while it ran out.
    at_once = FamilyNotifier(translators, offer_window=timedelta(0))
    async with backend.db.uow() as uow:
        await cancel_registration(uow, at_once, people[0][0], made[0].id)
        await uow.commit()
    # Every one of the queue was offered the seat in turn and let it lapse.
    assert await lapse_offers(backend.db, at_once) == 5
    async with backend.db.uow() as uow:
        statuses = [
            s
            for (s,) in await uow.session.execute(
                select(RegistrationRow.status).order_by(RegistrationRow.id)
            )
        ]
        taken = await uow.session.scalar(select(SeasonRow.seats_taken))
    assert (statuses, taken) == (["cancelled"] * (6), 0)


async def test_signed_pairs_are_forgotten_each_minute_once_twice_the_clock_window_old(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    # A pair's timestamp is refused ten minutes either side of our clock.
    assert timedelta(minutes=20) == KEEP_SIGNED
    async with backend.db.uow() as uow:
        for nonce in ("old", "recent"):
            assert await bind(uow, "wechat", 1_700_000_000, nonce, "d" * 64)
        await uow.session.execute(
            update(SignedRequestRow)
            .where(SignedRequestRow.nonce == "old")
            .values(created_at=utcnow() - KEEP_SIGNED - timedelta(seconds=5))
        )
        await uow.session.execute(
            update(SignedRequestRow)
            .where(SignedRequestRow.nonce == "recent")
            .values(created_at=utcnow() - KEEP_SIGNED + timedelta(minutes=1))
        )
        await uow.commit()

    async def nonces() -> list[str]:
        async with backend.db.uow() as uow:
            return sorted(await uow.session.scalars(select(SignedRequestRow.nonce)))

    stop = asyncio.Event()
    job = every_minute(
        backend.db, backend.notify, WorkshopNotifier(translators), translators, stop
    )
    task = asyncio.create_task(job)
    try:
        for _ in range(200):
            if await nonces() == ["recent"]:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert await nonces() == ["recent"]
