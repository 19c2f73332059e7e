"""Granting staff roles, with their factory scopes."""

from __future__ import annotations

import pytest

from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.model import RoleName
from ffs_bot.services.staff import grant_role, list_roles, revoke_role
from tests.conftest import Backend
from tests.helpers import seed_factories


async def test_roles_are_granted_with_scopes_and_granting_twice_changes_nothing(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    for _ in range(2):
        async with backend.db.uow() as uow:
            await grant_role(
                uow,
                channel="telegram",
                external_user_id="1",
                role=RoleName.ADMIN,
                factory_codes=[],
            )
            await grant_role(
                uow,
                channel="telegram",
                external_user_id="2",
                role=RoleName.COORDINATOR,
                factory_codes=["sz01", "DG01", "SZ01"],
            )
            await uow.commit()
    async with backend.db.uow() as uow:
        roles = await list_roles(uow)
    assert [(r.external_user_id, r.role, r.factory_code) for r in roles] == [
        ("1", RoleName.ADMIN, None),
        ("2", RoleName.COORDINATOR, "DG01"),
        ("2", RoleName.COORDINATOR, "SZ01"),
    ]


@pytest.mark.parametrize(
    ("role", "codes", "error"),
    [
        (RoleName.ADMIN, ["SZ01"], InvalidInput),
        (RoleName.COORDINATOR, [], InvalidInput),
        (RoleName.SPONSOR, ["NOPE"], NotFound),
    ],
)
async def test_roles_with_a_wrong_scope_are_refused(
    backend: Backend, role: RoleName, codes: list[str], error: type[Exception]
) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        with pytest.raises(error):
            await grant_role(
                uow, channel="console", external_user_id="x", role=role, factory_codes=codes
            )
        assert await list_roles(uow) == []


async def test_a_staff_member_granted_before_writing_is_the_same_person_later(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        grants = await grant_role(
            uow, channel="console", external_user_id="boss", role=RoleName.ADMIN, factory_codes=[]
        )
        await uow.commit()
    from tests.helpers import Chat

    chat = Chat(backend.conversations, user="boss")
    await chat.onboard()
    async with backend.db.uow() as uow:
        roles = await list_roles(uow)
    assert [r.person_id for r in roles] == [grants[0].person_id]


async def test_only_a_programme_admin_gives_or_takes_roles(backend: Backend) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        coordinator = await grant_role(
            uow,
            channel="console",
            external_user_id="coordinator",
            role=RoleName.COORDINATOR,
            factory_codes=["SZ01"],
        )
        admin = await grant_role(
            uow, channel="console", external_user_id="boss", role=RoleName.ADMIN, factory_codes=[]
        )
        await uow.commit()
    actor = coordinator[0].person_id
    async with backend.db.uow() as uow:
        with pytest.raises(Forbidden):
            await grant_role(
                uow,
                channel="console",
                external_user_id="coordinator",
                role=RoleName.ADMIN,
                factory_codes=[],
                actor_person_id=actor,
            )
        with pytest.raises(Forbidden):
            await revoke_role(
                uow,
                channel="console",
                external_user_id="boss",
                role=RoleName.ADMIN,
                factory_codes=[],
                actor_person_id=actor,
            )
        assert len(await list_roles(uow)) == 2
        taken = await revoke_role(
            uow,
            channel="console",
            external_user_id="coordinator",
            role=RoleName.COORDINATOR,
            factory_codes=[],
            actor_person_id=admin[0].person_id,
        )
    assert taken == 1
