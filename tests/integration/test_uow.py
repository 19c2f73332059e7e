"""The unit of work: Core statements see the ORM changes made before them."""

from __future__ import annotations

from ffs_bot.db.tables import RoleRow
from ffs_bot.model import RoleName
from ffs_bot.services.factories import get_factory_by_code
from ffs_bot.services.people import touch_identity
from ffs_bot.services.staff import staff_scope
from tests.conftest import Backend
from tests.helpers import seed_factories


async def test_a_core_read_sees_a_role_added_as_an_orm_row_in_the_same_transaction(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        person, _identity = await touch_identity(uow, "telegram", "42")
        factory = await get_factory_by_code(uow, "SZ01")
        assert factory is not None
        assert not (await staff_scope(uow, person.id)).is_staff
        uow.session.add(
            RoleRow(person_id=person.id, role=RoleName.COORDINATOR.value, factory_id=factory.id)
        )
        # staff_scope reads with a Core statement: the session must write the role first.
        scope = await staff_scope(uow, person.id)
    assert scope.is_staff
    assert scope.covers(factory.id)
