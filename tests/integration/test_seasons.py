"""Seasons and registrations: the rules, and never more confirmed children than seats."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import RegistrationRow, SeasonRow
from ffs_bot.db.uow import Database
from ffs_bot.errors import ConflictError, InvalidInput, NotFound
from ffs_bot.model import Relationship
from ffs_bot.services.children import add_child
from ffs_bot.services.factories import get_factory_by_code
from ffs_bot.services.people import set_factory, touch_identity
from ffs_bot.services.seasons import (
    RegistrationStatus,
    cancel_registration,
    create_season,
    hold_season,
    register_child,
)
from tests.conftest import Backend
from tests.helpers import seed_factories, works_at

TODAY = date(2027, 6, 1)
SUMMER = {"starts_on": date(2027, 7, 5), "ends_on": date(2027, 8, 20)}


async def season(db: Database, capacity: int = 20, auto_confirm: bool = True) -> int:
    async with db.uow() as uow:
        made = await create_season(
            uow,
            factory_code="SZ01",
            min_age_years=3,
            max_age_years=12,
            capacity=capacity,
            registration_deadline=date(2027, 6, 30),
            auto_confirm=auto_confirm,
            **SUMMER,
        )
        await uow.commit()
    return made.id


async def families(db: Database, count: int, born: tuple[int, int] = (2019, 4)):
    """`count` workers at SZ01 with one child each: (person id, child id)."""
    made = []
    async with db.uow() as uow:
        factory = await get_factory_by_code(uow, "SZ01")
        assert factory is not None
        for n in range(count):
            person, _ = await touch_identity(uow, "console", f"parent{n}")
            await set_factory(uow, person.id, factory.id)
            child = await add_child(
                uow,
                person_id=person.id,
                name=f"Kid{n}",
                birth_year=born[0],
                birth_month=born[1],
                gender=None,
                relationship=Relationship.MOTHER,
                today=TODAY,
            )
            made.append((person.id, child.id))
        await uow.commit()
    return made


async def register(db: Database, person: int, child: int, season_id: int, **dates):
    """Register as the chat does: the season held with the person's child, then the seat."""
    async with db.uow() as uow:
        chosen = await held(uow, person, child, season_id)
        result = await register_child(uow, **chosen, **{**SUMMER, **dates})
        await uow.commit()
    return result


async def held(uow, person: int, child: int, season_id: int, today: date = TODAY) -> dict:
    """`register_child`'s arguments as the chat reads them: the season held with the child."""
    found = await hold_season(uow, season_id, person_id=person, child_id=child, today=today)
    if found.child is None:
        raise NotFound(f"child {child}")
    return {"person_id": person, "child": found.child, "season": found.season, "today": today}


async def test_100_concurrent_requests_for_20_seats_confirm_exactly_20(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=20)
    people = await families(backend.db, 100)
    # Two engines, as two processes would have: on PostgreSQL they really race.
    other_engine = create_engine(backend.url)
    try:
        dbs = [backend.db, Database(create_session_factory(other_engine))]
        results = await asyncio.gather(
            *(
                register(dbs[n % 2], person, child, season_id)
                for n, (person, child) in enumerate(people)
            )
        )
    finally:
        await other_engine.dispose()
    confirmed = [r for r in results if r.status is RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in results if r.status is RegistrationStatus.WAITLISTED]
    assert (len(confirmed), len(waitlisted)) == (20, 80)
    assert sorted(r.queue_position for r in waitlisted) == list(range(1, 81))
    # The queue is the order the database took them in.
    by_id = sorted(waitlisted, key=lambda r: r.id)
    assert [r.queue_position for r in by_id] == list(range(1, 81))
    async with backend.db.uow() as uow:
        taken = await uow.session.scalar(select(SeasonRow.seats_taken))
        holding = await uow.session.scalar(
            select(func.count())
            .select_from(RegistrationRow)
            .where(RegistrationRow.status == "confirmed")
        )
    assert taken == holding == 20


async def test_a_cancelled_seat_is_free_again_and_a_waitlisted_cancel_frees_none(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    (a, ca), (b, cb), (c, cc) = await families(backend.db, 3)
    first = await register(backend.db, a, ca, season_id)
    second = await register(backend.db, b, cb, season_id)
    assert (first.status, second.status, second.queue_position) == (
        RegistrationStatus.CONFIRMED,
        RegistrationStatus.WAITLISTED,
        1,
    )
    async with backend.db.uow() as uow:
        await cancel_registration(uow, backend.notify, b, second.id)
        cancelled = await cancel_registration(uow, backend.notify, a, first.id)
        again = await cancel_registration(uow, backend.notify, a, first.id)  # pressed twice
        await uow.commit()
    assert cancelled.status is again.status is RegistrationStatus.CANCELLED
    third = await register(backend.db, c, cc, season_id)
    assert third.status is RegistrationStatus.CONFIRMED
    # A child whose registration was cancelled may register again.
    fourth = await register(backend.db, a, ca, season_id)
    assert fourth.status is RegistrationStatus.WAITLISTED


async def test_without_auto_confirm_a_request_holds_a_seat(backend: Backend) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1, auto_confirm=False)
    (a, ca), (b, cb) = await families(backend.db, 2)
    assert (await register(backend.db, a, ca, season_id)).status is RegistrationStatus.REQUESTED
    assert (await register(backend.db, b, cb, season_id)).status is RegistrationStatus.WAITLISTED


@pytest.mark.parametrize(
    ("born", "dates", "today", "problem"),
    [
        ((2026, 1), {}, TODAY, "age"),  # one year old: too young
        ((2012, 1), {}, TODAY, "age"),  # fifteen: too old
        ((2019, 4), {"starts_on": date(2027, 7, 1)}, TODAY, "dates"),
        ((2019, 4), {"ends_on": date(2027, 8, 21)}, TODAY, "dates"),
        ((2019, 4), {"starts_on": date(2027, 8, 1), "ends_on": date(2027, 7, 10)}, TODAY, "dates"),
        ((2019, 4), {}, date(2027, 7, 1), "closed"),
    ],
)
async def test_registrations_that_break_a_rule_are_refused_and_take_no_seat(
    backend: Backend, born, dates, today, problem
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db)
    ((person, child),) = await families(backend.db, 1, born)
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput, match=problem):
            chosen = await held(uow, person, child, season_id, today)
            await register_child(uow, **chosen, **{**SUMMER, **dates})
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 0


async def test_the_same_child_twice_and_someone_elses_child_are_refused(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db)
    (a, ca), (b, _cb) = await families(backend.db, 2)
    first = await register(backend.db, a, ca, season_id)
    async with backend.db.uow() as uow:
        with pytest.raises(ConflictError):
            await register_child(uow, **await held(uow, a, ca, season_id), **SUMMER)
        await uow.commit()  # as the chat does, to say so: the seat tried for is back
    with pytest.raises(NotFound):
        await register(backend.db, b, ca, season_id)
    async with backend.db.uow() as uow:
        with pytest.raises(NotFound):
            await cancel_registration(uow, backend.notify, b, first.id)
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"ends_on": date(2027, 7, 1)},
        {"min_age_years": 8, "max_age_years": 6},
        {"max_age_years": 18},
        {"capacity": 0},
        {"registration_deadline": date(2027, 9, 1)},
    ],
)
async def test_a_season_that_cannot_be_is_refused(backend: Backend, changes) -> None:
    await seed_factories(backend.db)
    values = {
        "factory_code": "SZ01",
        "min_age_years": 3,
        "max_age_years": 12,
        "capacity": 20,
        "registration_deadline": date(2027, 6, 30),
        **SUMMER,
        **changes,
    }
    async with backend.db.uow() as uow:
        with pytest.raises(InvalidInput):
            await create_season(uow, **values)


async def test_a_family_at_another_factory_cannot_hold_or_register_for_the_season(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    season_id = await season(backend.db, capacity=1)
    ((person, child),) = await families(backend.db, 1)
    await works_at(backend.db, person, "DG01")
    with pytest.raises(NotFound):
        await register(backend.db, person, child, season_id)
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(RegistrationRow)) == 0
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 0
    await works_at(backend.db, person, "SZ01")
    assert (await register(backend.db, person, child, season_id)).status == "confirmed"
