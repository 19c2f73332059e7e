"""Staff roles: programme admins, factory coordinators and sponsor viewers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from ffs_bot.db.sql import table_of
from ffs_bot.db.tables import FactoryRow, IdentityRow, RoleRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, InvalidInput, NotFound
from ffs_bot.model import Channel, RoleGrant, RoleName
from ffs_bot.services.audit import record_event
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.people import touch_identity

__all__ = [
    "StaffScope",
    "grant_role",
    "has_role",
    "list_roles",
    "require_factory",
    "revoke_role",
    "staff_scope",
]

# Channel account ids: Telegram's are numbers, WeChat's OpenIDs letters, digits, - and _.
USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,128}")


async def grant_role(
    uow: UnitOfWork,
    *,
    channel: str,
    external_user_id: str,
    role: RoleName,
    factory_codes: list[str],
    actor_person_id: int | None = None,
) -> list[RoleGrant]:
    """Give a channel account a staff role; granting one it holds already changes nothing.

    `actor_person_id` None is the operator at the command line; a person must be an admin.

    Raises:
        Forbidden: the acting person is not a programme admin.
        InvalidInput: an unknown channel, an admin given factories, or a scoped role given none.
        NotFound: a factory code that does not exist.
    """
    await _require_admin(uow, actor_person_id)
    if channel not in {c.value for c in Channel}:
        raise InvalidInput(f"unknown channel {channel!r}")
    if not USER_ID.fullmatch(external_user_id.strip()):
        raise InvalidInput("the user id must be 1-128 letters, digits, '-', '_', '.' or '@'")
    codes = sorted({normalise_code(code) for code in factory_codes})
    if role is RoleName.ADMIN and codes:
        raise InvalidInput("a programme admin covers every factory: give no --factory")
    if role is not RoleName.ADMIN and not codes:
        raise InvalidInput(f"a {role.value} needs at least one --factory")
    factories = {
        row.code: row.id
        for row in await uow.session.scalars(select(FactoryRow).where(FactoryRow.code.in_(codes)))
    }
    missing = [code for code in codes if code not in factories]
    if missing:
        raise NotFound("unknown factory code(s): " + ", ".join(missing))
    person, _identity = await touch_identity(uow, channel, external_user_id.strip(), seen=False)
    held = {
        row.factory_id
        for row in await uow.session.scalars(
            select(RoleRow).where(RoleRow.person_id == person.id, RoleRow.role == role.value)
        )
    }
    scopes: list[int | None] = [factories[code] for code in codes] if codes else [None]
    for factory_id in scopes:
        if factory_id in held:
            continue
        uow.session.add(RoleRow(person_id=person.id, role=role.value, factory_id=factory_id))
        await record_event(
            uow,
            "staff.grant",
            actor_person_id=actor_person_id,
            subject_type="person",
            subject_id=person.id,
            role=role.value,
            factory_id=factory_id,
        )
    await uow.session.flush()
    return [grant for grant in await list_roles(uow) if grant.person_id == person.id]


async def list_roles(uow: UnitOfWork) -> list[RoleGrant]:
    """Return every staff role with the account it was granted to."""
    rows = await uow.session.execute(
        select(RoleRow.person_id, RoleRow.role, FactoryRow.code, IdentityRow)
        .join(IdentityRow, IdentityRow.person_id == RoleRow.person_id)
        .outerjoin(FactoryRow, FactoryRow.id == RoleRow.factory_id)
        .order_by(IdentityRow.channel, IdentityRow.external_user_id, RoleRow.role, FactoryRow.code)
    )
    return [
        RoleGrant(
            person_id=person_id,
            role=RoleName(role),
            factory_code=code,
            channel=identity.channel,
            external_user_id=identity.external_user_id,
        )
        for person_id, role, code, identity in rows
    ]


@dataclass(frozen=True, slots=True)
class StaffScope:
    """The factories a person may run: every one for a programme admin."""

    every_factory: bool
    factory_ids: frozenset[int]

    @property
    def is_staff(self) -> bool:
        """Whether the person runs any factory at all."""
        return self.every_factory or bool(self.factory_ids)

    def covers(self, factory_id: int) -> bool:
        """Whether the person may run this factory."""
        return self.every_factory or factory_id in self.factory_ids


# Read for every main menu shown: a Core statement, built once.
_ROLE = table_of(RoleRow)
_STAFF_ROLES = select(_ROLE.c.role, _ROLE.c.factory_id).where(
    _ROLE.c.person_id == bindparam("person_id"),
    _ROLE.c.role.in_([RoleName.ADMIN.value, RoleName.COORDINATOR.value]),
)


async def staff_scope(uow: UnitOfWork, person_id: int) -> StaffScope:
    """Return the factories a person may run as an admin or coordinator (sponsors run none)."""
    rows = await uow.session.execute(_STAFF_ROLES, {"person_id": person_id})
    every = False
    factories: set[int] = set()
    for role, factory_id in rows:
        if role == RoleName.ADMIN.value:
            every = True
        elif factory_id is not None:
            factories.add(factory_id)
    return StaffScope(every, frozenset(factories))


async def require_factory(uow: UnitOfWork, person_id: int, factory_id: int) -> StaffScope:
    """Return the person's scope if it covers the factory.

    Raises:
        Forbidden: the person is not an admin nor this factory's coordinator.
    """
    scope = await staff_scope(uow, person_id)
    if not scope.covers(factory_id):
        raise Forbidden(f"person {person_id} may not run factory {factory_id}")
    return scope


async def _require_admin(uow: UnitOfWork, actor_person_id: int | None) -> None:
    """Refuse a person who is not a programme admin (None, the operator, passes).

    Raises:
        Forbidden: the person is not a programme admin.
    """
    if actor_person_id is not None and not (await staff_scope(uow, actor_person_id)).every_factory:
        raise Forbidden(f"person {actor_person_id} may not give or take staff roles")


async def revoke_role(
    uow: UnitOfWork,
    *,
    channel: str,
    external_user_id: str,
    role: RoleName,
    factory_codes: list[str],
    actor_person_id: int | None = None,
) -> int:
    """Take a staff role away (for the factories given, or every scope); return how many.

    `actor_person_id` None is the operator at the command line; a person must be an admin.

    Raises:
        Forbidden: the acting person is not a programme admin.
        NotFound: no such account, or a factory code that does not exist.
    """
    await _require_admin(uow, actor_person_id)
    person_id = await uow.session.scalar(
        select(IdentityRow.person_id).where(
            IdentityRow.channel == channel,
            IdentityRow.external_user_id == external_user_id.strip(),
        )
    )
    if person_id is None:
        raise NotFound(f"no account {channel}:{external_user_id}")
    query = select(RoleRow).where(RoleRow.person_id == person_id, RoleRow.role == role.value)
    if factory_codes:
        codes = sorted({normalise_code(code) for code in factory_codes})
        factories = dict(
            (
                await uow.session.execute(
                    select(FactoryRow.code, FactoryRow.id).where(FactoryRow.code.in_(codes))
                )
            ).all()
        )
        missing = [code for code in codes if code not in factories]
        if missing:
            raise NotFound("unknown factory code(s): " + ", ".join(missing))
        query = query.where(RoleRow.factory_id.in_(factories.values()))
    rows = list(await uow.session.scalars(query))
    for row in rows:
        await uow.session.delete(row)
        await record_event(
            uow,
            "staff.revoke",
            actor_person_id=actor_person_id,
            subject_type="person",
            subject_id=person_id,
            role=role.value,
            factory_id=row.factory_id,
        )
    await uow.session.flush()
    return len(rows)


# Also read for every main menu shown.
_ANY_ROLE = select(_ROLE.c.id).where(_ROLE.c.person_id == bindparam("person_id")).limit(1)


async def has_role(uow: UnitOfWork, person_id: int) -> bool:
    """Whether the person holds any staff role (sponsor viewers included)."""
    found = await uow.session.scalar(_ANY_ROLE, {"person_id": person_id})
    return found is not None
