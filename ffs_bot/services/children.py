"""Children and their guardians: added only with a guardian's consent, seen only by guardians."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from ffs_bot.db.sql import insert_ignore, table_of
from ffs_bot.db.tables import (
    ChildInviteRow,
    ChildRow,
    ConsentRow,
    GuardianRow,
    PersonRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import InvalidInput, NotFound
from ffs_bot.model import Child, Gender, Relationship
from ffs_bot.privacy import CHILD_CONSENT, CHILD_NOTICE_VERSION, HEALTH_CONSENT
from ffs_bot.services.audit import record_event
from ffs_bot.services.people import clean_display_name

__all__ = [
    "INVITE_LIFETIME",
    "MAX_CHILD_AGE_YEARS",
    "MAX_HEALTH_NOTES",
    "ONE_CHILD",
    "add_child",
    "clean_health_notes",
    "create_invite",
    "get_child",
    "invited_child_name",
    "join_child",
    "list_children",
    "normalise_invite_code",
    "parse_birth_month",
    "rename_child",
    "set_birth_month",
    "set_health_notes",
    "to_child",
]

# The programme serves children; anyone older is not a child it can register.
MAX_CHILD_AGE_YEARS = 18
MAX_HEALTH_NOTES = 200
INVITE_LIFETIME = timedelta(days=7)
# No 0/O, 1/I/L: codes are read aloud and typed on small phones.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 6
_NUMBERS = re.compile(r"\d+")


def parse_birth_month(text: str, today: date) -> tuple[int, int]:
    """Read a birth month typed as 2018-03, 2018.3, 2018/3, 2018年3月 or 201803.

    Raises:
        InvalidInput: not a year and month ("format"), a month in the future ("future"),
            or a child older than MAX_CHILD_AGE_YEARS ("too old").
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    numbers = _NUMBERS.findall(folded)
    if len(numbers) == 1 and len(numbers[0]) == 6:
        numbers = [numbers[0][:4], numbers[0][4:]]
    if len(numbers) != 2 or len(numbers[0]) != 4 or len(numbers[1]) > 2:
        raise InvalidInput("format")
    year, month = int(numbers[0]), int(numbers[1])
    if not 1 <= month <= 12:
        raise InvalidInput("format")
    if (year, month) > (today.year, today.month):
        raise InvalidInput("future")
    if (today.year - year) * 12 + (today.month - month) > MAX_CHILD_AGE_YEARS * 12:
        raise InvalidInput("too old")
    return year, month


def clean_health_notes(text: str) -> str:
    """Tidy health or allergy notes.

    Raises:
        InvalidInput: empty or longer than MAX_HEALTH_NOTES.
    """
    notes = " ".join(unicodedata.normalize("NFKC", text).split())
    if not notes or len(notes) > MAX_HEALTH_NOTES:
        raise InvalidInput("length")
    return notes


# Read on most steps about children, registration included: Core statements built once (an
# ORM query built on every call spent ten times the SQL's time in SQLAlchemy). Run through
# the session they still autoflush, so they see the unit of work's pending changes.
_CHILD = table_of(ChildRow)
_GUARDIAN = table_of(GuardianRow)
_PERSON = table_of(PersonRow)
_OTHERS = _GUARDIAN.alias("others")
# A guardian who asked to be forgotten keeps an anonymous link (for the reports' count of
# parents) but is no guardian any more.
_GUARDIANS = (
    select(func.count())
    .select_from(_OTHERS.join(_PERSON, _PERSON.c.id == _OTHERS.c.person_id))
    .where(_OTHERS.c.child_id == _CHILD.c.id, _PERSON.c.erased_at.is_(None))
    .scalar_subquery()
)
_CHILDREN = (
    select(
        _CHILD.c.id,
        _CHILD.c.name,
        _CHILD.c.birth_year,
        _CHILD.c.birth_month,
        _CHILD.c.gender,
        _CHILD.c.health_notes,
        _GUARDIAN.c.relationship,
        _GUARDIANS,
    )
    .select_from(_CHILD.join(_GUARDIAN, _GUARDIAN.c.child_id == _CHILD.c.id))
    .where(_GUARDIAN.c.person_id == bindparam("person_id"), _CHILD.c.erased_at.is_(None))
    .order_by(_CHILD.c.birth_year, _CHILD.c.birth_month, _CHILD.c.id)
)
# The person's child `child_id` (parameters person_id and child_id), as `get_child` reads it:
# also a part of the statement that holds a season to register the child for it.
ONE_CHILD = _CHILDREN.where(_CHILD.c.id == bindparam("child_id"))


def to_child(columns: Sequence[Any]) -> Child:
    """The child in the columns `ONE_CHILD` selects, in its order."""
    child, name, year, month, gender, notes, relationship, count = columns
    return Child(
        id=child,
        name=name,
        birth_year=year,
        birth_month=month,
        gender=Gender(gender) if gender else None,
        health_notes=notes,
        relationship=Relationship(relationship),
        guardians=int(count),
    )


async def _rows(uow: UnitOfWork, person_id: int, child_id: int | None = None) -> list[Child]:
    if child_id is None:
        rows = await uow.session.execute(_CHILDREN, {"person_id": person_id})
    else:
        values = {"person_id": person_id, "child_id": child_id}
        rows = await uow.session.execute(ONE_CHILD, values)
    return [to_child(row) for row in rows]


async def list_children(uow: UnitOfWork, person_id: int) -> list[Child]:
    """Return the children a person is a guardian of, oldest first."""
    return await _rows(uow, person_id)


async def get_child(uow: UnitOfWork, person_id: int, child_id: int) -> Child:
    """Return one of the person's children.

    Raises:
        NotFound: no such child, or not this person's child (the same answer for both).
    """
    found = await _rows(uow, person_id, child_id)
    if not found:
        raise NotFound(f"child {child_id}")
    return found[0]


async def _child_row(uow: UnitOfWork, person_id: int, child_id: int) -> ChildRow:
    await get_child(uow, person_id, child_id)
    row = await uow.session.get(ChildRow, child_id)
    assert row is not None
    return row


def _consent(person_id: int, child_id: int, kind: str) -> ConsentRow:
    return ConsentRow(
        person_id=person_id,
        child_id=child_id,
        kind=kind,
        notice_version=CHILD_NOTICE_VERSION,
        granted=True,
    )


async def add_child(
    uow: UnitOfWork,
    *,
    person_id: int,
    name: str,
    birth_year: int,
    birth_month: int,
    gender: Gender | None,
    relationship: Relationship,
    today: date,
) -> Child:
    """Save a child with the guardian's consent (given just before), recorded with it."""
    clean_name = clean_display_name(name)
    parse_birth_month(f"{birth_year:04d}-{birth_month:02d}", today)
    row = ChildRow(
        name=clean_name,
        birth_year=birth_year,
        birth_month=birth_month,
        gender=gender.value if gender else None,
    )
    uow.session.add(row)
    await uow.session.flush()
    await _add_guardian(uow, person_id, row.id, relationship, "child.added")
    # Just saved, with this person its only guardian: shown as it is, not read back.
    return Child(
        id=row.id,
        name=row.name,
        birth_year=row.birth_year,
        birth_month=row.birth_month,
        gender=gender,
        health_notes=None,
        relationship=relationship,
        guardians=1,
    )


async def rename_child(uow: UnitOfWork, person_id: int, child_id: int, name: str) -> Child:
    """Change the name the family uses for a child."""
    row = await _child_row(uow, person_id, child_id)
    row.name = clean_display_name(name)
    await uow.session.flush()
    return await get_child(uow, person_id, child_id)


async def set_birth_month(
    uow: UnitOfWork, person_id: int, child_id: int, text: str, today: date
) -> Child:
    """Correct a child's birth month, typed as `parse_birth_month` reads it."""
    year, month = parse_birth_month(text, today)
    row = await _child_row(uow, person_id, child_id)
    row.birth_year, row.birth_month = year, month
    await uow.session.flush()
    return await get_child(uow, person_id, child_id)


async def set_health_notes(
    uow: UnitOfWork, person_id: int, child_id: int, notes: str | None
) -> Child:
    """Keep health or allergy notes (recording the separate consent), or erase them (None)."""
    row = await _child_row(uow, person_id, child_id)
    if notes is None:
        row.health_notes = None
        await record_event(
            uow,
            "child.health_erased",
            actor_person_id=person_id,
            subject_type="child",
            subject_id=child_id,
        )
    else:
        row.health_notes = clean_health_notes(notes)
        uow.session.add(_consent(person_id, child_id, HEALTH_CONSENT))
        await record_event(
            uow,
            "child.health_saved",
            actor_person_id=person_id,
            subject_type="child",
            subject_id=child_id,
            consent=HEALTH_CONSENT,
            version=CHILD_NOTICE_VERSION,
        )
    await uow.session.flush()
    return await get_child(uow, person_id, child_id)


async def create_invite(uow: UnitOfWork, person_id: int, child_id: int) -> tuple[str, datetime]:
    """Make a one-time code for the child's other guardian; return it and when it expires."""
    await get_child(uow, person_id, child_id)
    expires_at = utcnow() + INVITE_LIFETIME
    for _attempt in range(5):
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        if await insert_ignore(
            uow,
            ChildInviteRow,
            {
                "code": code,
                "lookup": code[:4],
                "child_id": child_id,
                "created_by": person_id,
                "created_at": utcnow(),
                "expires_at": expires_at,
            },
            ["code"],
        ):
            await record_event(
                uow,
                "child.invite",
                actor_person_id=person_id,
                subject_type="child",
                subject_id=child_id,
            )
            return code, expires_at
    raise RuntimeError("could not find a free invite code")


def normalise_invite_code(text: str) -> str:
    """Fold a typed code: full-width letters, case, spaces and dashes do not matter."""
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text)).upper()


async def invited_child_name(uow: UnitOfWork, person_id: int, code: str) -> str:
    """Check an invite code for this person and return the child's name.

    Raises:
        InvalidInput: "invalid" (unknown, used or expired) or "already" (already a guardian).
    """
    invite = await _usable_invite(uow, code)
    child = await uow.session.get(ChildRow, invite.child_id)
    assert child is not None
    if await uow.session.get(GuardianRow, (invite.child_id, person_id)) is not None:
        raise InvalidInput("already")
    return child.name


async def join_child(
    uow: UnitOfWork, person_id: int, code: str, relationship: Relationship
) -> Child:
    """Make the person a guardian of the invited child, with their own consent recorded.

    Raises:
        InvalidInput: as `invited_child_name`.
    """
    invite = await _usable_invite(uow, code)
    if await uow.session.get(GuardianRow, (invite.child_id, person_id)) is not None:
        raise InvalidInput("already")
    invite.used_at = utcnow()
    invite.used_by = person_id
    await _add_guardian(uow, person_id, invite.child_id, relationship, "child.joined")
    return await get_child(uow, person_id, invite.child_id)


async def _add_guardian(
    uow: UnitOfWork, person_id: int, child_id: int, relationship: Relationship, action: str
) -> None:
    """Make the person a guardian of the child, with the consent they just gave recorded."""
    uow.session.add(
        GuardianRow(child_id=child_id, person_id=person_id, relationship=relationship.value)
    )
    uow.session.add(_consent(person_id, child_id, CHILD_CONSENT))
    await record_event(
        uow,
        action,
        actor_person_id=person_id,
        subject_type="child",
        subject_id=child_id,
        consent=CHILD_CONSENT,
        version=CHILD_NOTICE_VERSION,
    )
    await uow.session.flush()


async def _usable_invite(uow: UnitOfWork, code: str) -> ChildInviteRow:
    invite = await uow.session.scalar(
        select(ChildInviteRow).where(ChildInviteRow.code == normalise_invite_code(code))
    )
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        raise InvalidInput("invalid")
    return invite
