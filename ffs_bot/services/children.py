"""Children and their guardians: added only with a guardian's consent, seen only by guardians.

A guardian invites the child's other guardian with a one-time code of 8 letters (`ABCD-EFGH`,
31 signs, valid 7 days). The first four find the invite; the last four are its secret, one
of 31**4 = 923,521. Guessing is held back twice:

- per code: a wrong secret typed against a live invite counts against it, and at
  `INVITE_MAX_FAILURES` (5) wrong ones the invite is void and its maker told. However many
  accounts an attacker uses, each invite is guessed at most 5 times: a chance of about
  5 in 923,521 (5 x 10^-6) per invite, and it then dies.
- per person: every wrong code (unknown, wrong secret, used, expired or void) is recorded;
  after `TRIES_PER_WINDOW` (5) in `TRIES_WINDOW` (15 minutes) the person waits and no code
  is even checked, and `TRIES_PER_DAY` (20) a day at most. A guess must first hit the
  lookup of a live invite (one chance in 923,521 per invite) for its secret to be in play.

Nothing about the child is told before the code is accepted and the joining guardian has
consented (`check_invite` returns only a ticket), and the inviting guardian is told of each
join and may undo it (`undo_join`).
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, bindparam, delete, func, select, update

from ffs_bot.db.sql import insert_ignore, table_of
from ffs_bot.db.tables import (
    ChildInviteRow,
    ChildRow,
    ConsentRow,
    GuardianRow,
    InviteAttemptRow,
    PersonRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, InvalidInput, NotFound, TooManyTries
from ffs_bot.model import Child, Gender, Relationship
from ffs_bot.notices import FamilyNotifier
from ffs_bot.privacy import CHILD_CONSENT, CHILD_NOTICE_VERSION, HEALTH_CONSENT
from ffs_bot.services.audit import record_event
from ffs_bot.services.people import clean_display_name

__all__ = [
    "INVITE_LIFETIME",
    "INVITE_MAX_FAILURES",
    "MAX_CHILD_AGE_YEARS",
    "MAX_HEALTH_NOTES",
    "ONE_CHILD",
    "TRIES_DAY",
    "TRIES_PER_DAY",
    "TRIES_PER_WINDOW",
    "TRIES_WINDOW",
    "UndoneJoin",
    "add_child",
    "check_birth_month",
    "check_invite",
    "clean_health_notes",
    "create_invite",
    "drop_open_invites",
    "get_child",
    "join_child",
    "list_children",
    "normalise_invite_code",
    "purge_invite_attempts",
    "rename_child",
    "set_birth_month",
    "set_health_notes",
    "show_invite_code",
    "to_child",
    "undo_join",
]

# The programme serves children; anyone older is not a child it can register.
MAX_CHILD_AGE_YEARS = 18
MAX_HEALTH_NOTES = 200
INVITE_LIFETIME = timedelta(days=7)
# No 0/O, 1/I/L: codes are read aloud and typed on small phones.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 8
# The first letters find the invite; the rest are its secret (31**4 = 923,521 of them).
INVITE_LOOKUP = 4
# Wrong secrets typed against one invite before it is void and its maker told.
INVITE_MAX_FAILURES = 5
# Wrong codes one person may type: so many in a short window, and so many a day.
TRIES_PER_WINDOW = 5
TRIES_WINDOW = timedelta(minutes=15)
TRIES_PER_DAY = 20
TRIES_DAY = timedelta(days=1)
# Codes of 6 letters were made before 8; they keep working until they expire (7 days).
_CODE_SHAPE = re.compile(f"[{INVITE_ALPHABET}]{{6}}(?:[{INVITE_ALPHABET}]{{2}})?")
_INVITE = table_of(ChildInviteRow)


def check_birth_month(year: int, month: int, today: date) -> None:
    """Check that a year and month can be a child's birth (typed answers: handlers.answers).

    Raises:
        InvalidInput: not a month ("format"), a month in the future ("future"), or a child
            older than MAX_CHILD_AGE_YEARS ("too old").
    """
    if not 1 <= month <= 12:
        raise InvalidInput("format")
    if (year, month) > (today.year, today.month):
        raise InvalidInput("future")
    if (today.year - year) * 12 + (today.month - month) > MAX_CHILD_AGE_YEARS * 12:
        raise InvalidInput("too old")


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
    check_birth_month(birth_year, birth_month, today)
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
    uow: UnitOfWork, person_id: int, child_id: int, year: int, month: int, today: date
) -> Child:
    """Correct a child's birth month (checked as `check_birth_month` does)."""
    check_birth_month(year, month, today)
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
    """Make a one-time code for the child's other guardian; return it, as shown, and its end."""
    await get_child(uow, person_id, child_id)
    now = utcnow()
    expires_at = now + INVITE_LIFETIME
    for _attempt in range(10):
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        # A lookup held by one live invite only, so wrong codes count against that one. Two
        # invites made at once may still draw the same lookup (one chance in 923,521): they
        # then share their failures, which only voids them sooner.
        if await _live_invites(uow, code[:INVITE_LOOKUP], now):
            continue
        if await insert_ignore(
            uow,
            ChildInviteRow,
            {
                "code": code,
                "lookup": code[:INVITE_LOOKUP],
                "child_id": child_id,
                "created_by": person_id,
                "created_at": now,
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
            return show_invite_code(code), expires_at
    raise RuntimeError("could not find a free invite code")


def show_invite_code(code: str) -> str:
    """Write a code in two halves, ABCD-EFGH: easier to read aloud and to copy."""
    if len(code) != INVITE_LENGTH:
        return code
    return f"{code[:INVITE_LOOKUP]}-{code[INVITE_LOOKUP:]}"


def normalise_invite_code(text: str) -> str:
    """Fold a typed code: full-width letters, case, spaces and dashes do not matter."""
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text)).upper()


async def check_invite(uow: UnitOfWork, notify: FamilyNotifier, person_id: int, code: str) -> str:
    """Check a typed invite code, counting wrong ones; return the ticket `join_child` takes.

    The ticket says nothing about the child: its name is shown only once the person has
    consented and joined.

    Raises:
        TooManyTries: the person typed too many wrong codes lately; the code was not checked.
        InvalidInput: "invalid" (wrong, used, expired or void) or "already" (a guardian).
    """
    invite = await _accepted_invite(uow, notify, person_id, code)
    return invite.code


async def join_child(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    person_id: int,
    ticket: str,
    relationship: Relationship,
) -> Child:
    """Make the person a guardian of the invited child, with their own consent recorded.

    The inviting guardian is told, with a button to undo it (`undo_join`).

    Raises:
        TooManyTries, InvalidInput: as `check_invite`.
    """
    invite = await _accepted_invite(uow, notify, person_id, ticket)
    # One conditional statement: of two people joining with one code at once, one wins.
    claimed = await uow.session.execute(
        update(_INVITE)
        .where(_INVITE.c.id == invite.id, _INVITE.c.used_at.is_(None))
        .values(used_at=utcnow(), used_by=person_id)
    )
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        raise InvalidInput("invalid")
    await _add_guardian(
        uow, person_id, invite.child_id, relationship, "child.joined", invite_id=invite.id
    )
    await notify.guardian_joined(uow, invite.id)
    return await get_child(uow, person_id, invite.child_id)


@dataclass(frozen=True, slots=True)
class UndoneJoin:
    """Who was removed from which child by undoing a join."""

    child_name: str
    guardian_name: str


async def undo_join(
    uow: UnitOfWork, notify: FamilyNotifier, person_id: int, invite_id: int
) -> UndoneJoin:
    """Remove the guardian who joined with the person's invite, and tell them.

    Raises:
        NotFound: no invite of this person's, or they are no guardian of the child now.
        ConflictError: nobody joined with it, or the one who did is no guardian through it
            any more (undone already, left, forgotten, or joined again with a later code).
    """
    invite = await uow.session.get(ChildInviteRow, invite_id)
    if invite is None or invite.created_by != person_id:
        raise NotFound(f"invite {invite_id}")
    child = await get_child(uow, person_id, invite.child_id)
    joined, used_at = invite.used_by, invite.used_at
    if joined is None or used_at is None:
        raise ConflictError("unused")
    later = await uow.session.scalar(
        select(func.count()).where(
            ChildInviteRow.child_id == invite.child_id,
            ChildInviteRow.used_by == joined,
            ChildInviteRow.used_at > used_at,
        )
    )
    guardian = await uow.session.get(PersonRow, joined)
    link = await uow.session.get(GuardianRow, (invite.child_id, joined))
    if later or guardian is None or guardian.erased_at is not None or link is None:
        raise ConflictError("gone")
    await uow.session.delete(link)
    await drop_open_invites(uow, invite.child_id, joined)
    now = utcnow()
    await uow.session.execute(
        update(ConsentRow)
        .where(
            ConsentRow.person_id == joined,
            ConsentRow.child_id == invite.child_id,
            ConsentRow.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    await record_event(
        uow,
        "child.join_undone",
        actor_person_id=person_id,
        subject_type="child",
        subject_id=invite.child_id,
        invite_id=invite_id,
        guardian_person_id=joined,
    )
    await notify.join_undone(uow, invite_id)
    return UndoneJoin(child_name=child.name, guardian_name=guardian.display_name or "")


async def drop_open_invites(uow: UnitOfWork, child_id: int, person_id: int) -> None:
    """Void the person's unused codes for a child they no longer look after.

    A code is the guardian's own say-so: once they are gone, it would still let someone in,
    and tell them (no longer entitled to know) who joined.
    """
    await uow.session.execute(
        delete(ChildInviteRow).where(
            ChildInviteRow.child_id == child_id,
            ChildInviteRow.created_by == person_id,
            ChildInviteRow.used_at.is_(None),
        )
    )


async def _add_guardian(
    uow: UnitOfWork,
    person_id: int,
    child_id: int,
    relationship: Relationship,
    action: str,
    **details: Any,
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
        **details,
    )
    await uow.session.flush()


async def purge_invite_attempts(uow: UnitOfWork, now: datetime) -> int:
    """Forget wrong invite codes too old to count against anyone; return how many."""
    result = await uow.session.execute(
        delete(InviteAttemptRow).where(InviteAttemptRow.created_at <= now - TRIES_DAY)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """An invite that still works: unused, unexpired and not voided by wrong codes."""
    return (
        _INVITE.c.used_at.is_(None),
        _INVITE.c.expires_at > now,
        _INVITE.c.failures < INVITE_MAX_FAILURES,
    )


async def _live_invites(uow: UnitOfWork, lookup: str, now: datetime) -> int:
    found = await uow.session.scalar(
        select(func.count()).select_from(_INVITE).where(_INVITE.c.lookup == lookup, *_live(now))
    )
    return int(found or 0)


async def _accepted_invite(
    uow: UnitOfWork, notify: FamilyNotifier, person_id: int, code: str
) -> ChildInviteRow:
    """The live invite whose code this is, after the person's and the code's limits."""
    now = utcnow()
    until = await _locked_until(uow, person_id, now)
    if until is not None:
        raise TooManyTries(until)
    typed = normalise_invite_code(code)
    if not _CODE_SHAPE.fullmatch(typed):
        # Could be no one's code (a name, a word): not a guess, so not counted.
        raise InvalidInput("invalid")
    lookup = typed[:INVITE_LOOKUP]
    candidates = await uow.session.scalars(
        select(ChildInviteRow).where(ChildInviteRow.lookup == lookup)
    )
    # The lookup only finds the invite; the rest is the secret, compared in constant time.
    invite = next(
        (c for c in candidates if hmac.compare_digest(c.code.encode(), typed.encode())), None
    )
    if invite is None:
        await _count_wrong(uow, notify, person_id, now, lookup)
        raise InvalidInput("invalid")
    if (
        invite.used_at is not None
        or invite.expires_at <= now
        or invite.failures >= INVITE_MAX_FAILURES
    ):
        await _count_wrong(uow, notify, person_id, now)
        raise InvalidInput("invalid")
    if await uow.session.get(GuardianRow, (invite.child_id, person_id)) is not None:
        raise InvalidInput("already")
    return invite


async def _locked_until(uow: UnitOfWork, person_id: int, now: datetime) -> datetime | None:
    """When the person may type an invite code again, if they have to wait."""
    recent = list(
        await uow.session.scalars(
            select(InviteAttemptRow.created_at)
            .where(
                InviteAttemptRow.person_id == person_id,
                InviteAttemptRow.created_at > now - TRIES_DAY,
            )
            .order_by(InviteAttemptRow.created_at.desc())
            .limit(TRIES_PER_DAY)
        )
    )
    waits = []
    # Free again once the oldest wrong code that filled the window has left it.
    if len(recent) >= TRIES_PER_WINDOW and recent[TRIES_PER_WINDOW - 1] > now - TRIES_WINDOW:
        waits.append(recent[TRIES_PER_WINDOW - 1] + TRIES_WINDOW)
    if len(recent) >= TRIES_PER_DAY:
        waits.append(recent[TRIES_PER_DAY - 1] + TRIES_DAY)
    return max(waits, default=None)


async def _count_wrong(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    person_id: int,
    now: datetime,
    lookup: str | None = None,
) -> None:
    """Record a wrong code against the person and, with its `lookup`, the invite it hit."""
    uow.session.add(InviteAttemptRow(person_id=person_id, created_at=now))
    if lookup is None:
        return
    # One conditional statement, so of wrong codes typed at once exactly one voids the invite.
    hit = await uow.session.execute(
        update(_INVITE)
        .where(_INVITE.c.lookup == lookup, *_live(now))
        .values(failures=_INVITE.c.failures + 1)
        .returning(_INVITE.c.id, _INVITE.c.child_id, _INVITE.c.failures)
    )
    for invite_id, child_id, failures in hit.all():
        if failures < INVITE_MAX_FAILURES:
            continue
        await record_event(
            uow,
            "child.invite_void",
            subject_type="child",
            subject_id=child_id,
            invite_id=invite_id,
            failures=failures,
        )
        await notify.invite_void(uow, invite_id)
