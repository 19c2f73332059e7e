"""The coordinator's side of a season, scope checks, and freed seats offered down the queue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ffs_bot.db.tables import OutboxRow, RegistrationRow, SeasonRow
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.messages import replies_from_json
from ffs_bot.model import Bilingual, RoleName
from ffs_bot.notices import offer_payload
from ffs_bot.services import season_admin
from ffs_bot.services.people import touch_identity
from ffs_bot.services.seasons import (
    RegistrationStatus,
    answer_offer,
    cancel_registration,
    expire_offers,
    get_season,
)
from ffs_bot.services.staff import grant_role
from tests.conftest import Backend
from tests.helpers import seed_factories
from tests.integration.test_seasons import families, register, season

NOW = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)
DAY = date(2027, 7, 6)


async def staff(backend: Backend, user: str, role: RoleName, *codes: str) -> int:
    async with backend.db.uow() as uow:
        grants = await grant_role(
            uow, channel="console", external_user_id=user, role=role, factory_codes=list(codes)
        )
        await uow.commit()
    return grants[0].person_id


async def outbox(backend: Backend) -> list[OutboxRow]:
    async with backend.db.uow() as uow:
        return list(await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def status_of(backend: Backend, registration_id: int) -> str:
    async with backend.db.uow() as uow:
        row = await uow.session.get(RegistrationRow, registration_id)
        assert row is not None
        return row.status


async def test_a_coordinator_runs_only_their_own_factories(backend: Backend) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db)
    ((parent, child),) = await families(backend.db, 1)
    registration = await register(backend.db, parent, child, season_id)
    own = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    other = await staff(backend, "c-dg01", RoleName.COORDINATOR, "DG01")
    admin = await staff(backend, "admin", RoleName.ADMIN)
    sponsor = await staff(backend, "brand", RoleName.SPONSOR, "SZ01")
    notify = backend.notify
    async with backend.db.uow() as uow:
        assert [s.season.id for s in await season_admin.seasons_for_staff(uow, own)] == [season_id]
        assert [s.season.id for s in await season_admin.seasons_for_staff(uow, admin)] == [
            season_id
        ]
        assert await season_admin.seasons_for_staff(uow, other) == []
        assert await season_admin.seasons_for_staff(uow, sponsor) == []
        assert await season_admin.seasons_for_staff(uow, parent) == []
        for outsider in (other, sponsor, parent):
            with pytest.raises(Forbidden):
                await season_admin.season_for_staff(uow, outsider, season_id)
            with pytest.raises(Forbidden):
                await season_admin.registrations(uow, outsider, season_id)
            with pytest.raises(Forbidden):
                await season_admin.update_season(
                    uow, notify, outsider, season_id, season_admin.SeasonChanges(capacity=50)
                )
            with pytest.raises(Forbidden):
                await season_admin.decline_registration(
                    uow, notify, outsider, registration.id, "no"
                )
            with pytest.raises(Forbidden):
                await season_admin.check_in(uow, outsider, registration.id, DAY)
        # The same answer for a season that does not exist as before: nothing to see.
        with pytest.raises(NotFound):
            await season_admin.season_for_staff(uow, own, 9999)
    assert await status_of(backend, registration.id) == "confirmed"


async def test_confirm_and_decline_tell_every_guardian_once(backend: Backend) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=5, auto_confirm=False)
    (a, ca), (b, cb) = await families(backend.db, 2)
    first = await register(backend.db, a, ca, season_id)
    second = await register(backend.db, b, cb, season_id)
    assert first.status is second.status is RegistrationStatus.REQUESTED
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    for _pressed in range(2):  # a button pressed twice
        async with backend.db.uow() as uow:
            await season_admin.confirm_registration(uow, backend.notify, coordinator, first.id)
            await uow.commit()
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput):
            await season_admin.decline_registration(
                uow, backend.notify, coordinator, second.id, "   "
            )
        await season_admin.decline_registration(
            uow, backend.notify, coordinator, second.id, "Only children aged 6 and up this year"
        )
        await uow.commit()
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):
            await season_admin.decline_registration(
                uow, backend.notify, coordinator, second.id, "again"
            )
        with pytest.raises(ConflictError):
            await season_admin.confirm_registration(uow, backend.notify, coordinator, second.id)
    rows = await outbox(backend)
    assert [(row.recipient, row.idempotency_key.split(":")[2]) for row in rows] == [
        ("parent0", "confirmed"),
        ("parent1", "declined"),
    ]
    declined = replies_from_json(rows[1].content)[0].text
    assert "Only children aged 6 and up this year" in declined
    async with backend.db.uow() as uow:
        assert (await get_season(uow, season_id)).seats_taken == 1
        listed = await season_admin.registrations(uow, coordinator, season_id)
    assert [(e.child_name, e.status.value) for e in listed] == [
        ("Kid0", "confirmed"),
        ("Kid1", "declined"),
    ]


async def test_a_freed_seat_is_offered_down_the_queue_until_someone_takes_it(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    (a, ca), (b, cb), (c, cc), (d, cd) = await families(backend.db, 4)
    holder = await register(backend.db, a, ca, season_id)
    waiting = [await register(backend.db, p, k, season_id) for p, k in ((b, cb), (c, cc), (d, cd))]
    assert [r.queue_position for r in waiting] == [1, 2, 3]
    notify = backend.notify
    async with backend.db.uow() as uow:
        await cancel_registration(uow, notify, a, holder.id, now=NOW)
        await uow.commit()
    assert await status_of(backend, waiting[0].id) == "offered"
    offer = (await outbox(backend))[-1]
    assert offer.recipient == "parent1"
    buttons = [c.payload for c in replies_from_json(offer.content)[0].choices]
    assert buttons == [offer_payload("yes", waiting[0].id), offer_payload("no", waiting[0].id)]
    # Someone else's child's offer cannot be answered; the second in line passes.
    async with backend.db.uow() as uow:
        with pytest.raises(NotFound):
            await answer_offer(uow, notify, c, waiting[0].id, accept=True, now=NOW)
        await answer_offer(uow, notify, b, waiting[0].id, accept=False, now=NOW)
        await uow.commit()
    assert await status_of(backend, waiting[1].id) == "offered"
    # Nobody answers the second offer: after the window it lapses and goes to the third.
    async with backend.db.uow() as uow:
        assert await expire_offers(uow, notify, NOW + timedelta(hours=23)) == 0
        assert await expire_offers(uow, notify, NOW + timedelta(hours=25)) == 1
        await uow.commit()
    async with backend.db.uow() as uow:
        # A second worker after the first: nothing left to do.
        assert await expire_offers(uow, notify, NOW + timedelta(hours=25)) == 0
    assert await status_of(backend, waiting[1].id) == "cancelled"
    assert await status_of(backend, waiting[2].id) == "offered"
    later = NOW + timedelta(hours=26)
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):  # an old offer's button, pressed late
            await answer_offer(uow, notify, c, waiting[1].id, accept=True, now=later)
        taken = await answer_offer(uow, notify, d, waiting[2].id, accept=True, now=later)
        await uow.commit()
    assert taken.status is RegistrationStatus.CONFIRMED
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):  # pressed twice
            await answer_offer(uow, notify, d, waiting[2].id, accept=True, now=later)
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 1
    kinds = [row.idempotency_key.split(":")[2] for row in await outbox(backend)]
    assert sorted(kinds) == ["offer", "offer", "offer", "offer_expired"]


async def test_more_seats_go_to_the_queue_and_fewer_than_held_are_refused(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    people = await families(backend.db, 3)
    made = [await register(backend.db, p, k, season_id) for p, k in people]
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    async with backend.db.uow() as uow:
        updated = await season_admin.update_season(
            uow,
            backend.notify,
            coordinator,
            season_id,
            season_admin.SeasonChanges(capacity=5, place=Bilingual(en="Building 3, 2nd floor")),
            now=NOW,
        )
        await uow.commit()
    assert (updated.capacity, updated.seats_taken) == (5, 3)
    assert [await status_of(backend, r.id) for r in made] == ["confirmed", "offered", "offered"]
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput, match="capacity"):
            await season_admin.update_season(
                uow, backend.notify, coordinator, season_id, season_admin.SeasonChanges(capacity=2)
            )
        shown = await season_admin.season_for_staff(uow, coordinator, season_id)
    assert shown.place == Bilingual(en="Building 3, 2nd floor")


async def test_check_in_and_out_once_a_day_for_confirmed_children(backend: Backend) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    (a, ca), (b, cb) = await families(backend.db, 2)
    placed = await register(backend.db, a, ca, season_id)
    waiting = await register(backend.db, b, cb, season_id)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    morning = datetime(2027, 7, 6, 0, 30, tzinfo=UTC)
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput, match="not_in"):
            await season_admin.check_out(uow, coordinator, placed.id, DAY)
        first = await season_admin.check_in(uow, coordinator, placed.id, DAY, now=morning)
        again = await season_admin.check_in(
            uow, coordinator, placed.id, DAY, now=morning + timedelta(hours=1)
        )
        assert (first[0], first[1], again[1]) == (again[0], True, False)
        with pytest.raises(ConflictError):
            await season_admin.check_in(uow, coordinator, waiting.id, DAY)
        with pytest.raises(InvalidInput, match="day"):
            await season_admin.check_in(uow, coordinator, placed.id, date(2027, 9, 1))
        out, _changed = await season_admin.check_out(
            uow, coordinator, placed.id, DAY, now=morning + timedelta(hours=9)
        )
        await uow.commit()
    assert out.checked_out_at == morning + timedelta(hours=9)
    async with backend.db.uow() as uow:
        today = await season_admin.roster(uow, coordinator, season_id, DAY)
        tomorrow = await season_admin.roster(uow, coordinator, season_id, DAY + timedelta(1))
        count = await uow.session.scalar(select(func.count()).select_from(RegistrationRow))
    assert [(e.child_name, e.attendance) for e in today] == [("Kid0", out)]
    assert [(e.child_name, e.attendance) for e in tomorrow] == [("Kid0", None)]
    assert count == 2


async def test_sponsors_are_named_once_and_replace_the_factory_paying(backend: Backend) -> None:
    await seed_factories(backend.db)
    first = await season(backend.db)
    coordinator = await staff(backend, "c-sz01", RoleName.COORDINATOR, "SZ01")
    async with backend.db.uow() as uow:
        names = await season_admin.set_sponsors(
            uow, coordinator, first, ["  Brand  A ", "Brand B", "Brand A"]
        )
        with pytest.raises(InvalidInput):
            await season_admin.set_sponsors(uow, coordinator, first, ["x" * 101])
        await uow.commit()
    assert names == ("Brand A", "Brand B")
    async with backend.db.uow() as uow:
        shown = await season_admin.season_for_staff(uow, coordinator, first)
        person, _ = await touch_identity(uow, "console", "c-sz01")
    assert shown.sponsors == ("Brand A", "Brand B")
    assert shown.season.funding.value == "sponsor"
    assert person.id == coordinator
