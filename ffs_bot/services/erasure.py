"""Erasing personal data: a child's, everything about a person, and children past retention.

What goes: names, birth months, gender, health notes, a person's name and language, their
channel accounts and conversations, invites and wrong invite codes, staff roles, tip
settings, workshop comments and the texts of the messages queued or sent to them. What
stays: the rows the programme's reports count (registrations, attendance, guardian links,
bookings, ratings, tips sent), pointing at an emptied person or child row, so a year's
figures are the same before and after; and the consent records, marked withdrawn, as the
record of what was agreed when. A child with no registration has nothing to count and is
deleted outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, select, update

from ffs_bot.db.tables import (
    BookingRow,
    ChildInviteRow,
    ChildRow,
    ConsentRow,
    FeedbackRow,
    GuardianRow,
    IdentityRow,
    InviteAttemptRow,
    OutboxRow,
    PersonRow,
    RegistrationRow,
    RoleRow,
    SeasonRow,
    TipSubscriptionRow,
    WorkshopRow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import PersonStatus
from ffs_bot.notices import FamilyNotifier
from ffs_bot.outbox import stop_pending_for
from ffs_bot.services.audit import record_event
from ffs_bot.services.children import drop_open_invites, get_child
from ffs_bot.services.seasons import ENDED, end_for_erasure
from ffs_bot.services.workshops import LIVE, cancel_booking
from ffs_bot.workshop_notices import WorkshopNotifier

__all__ = [
    "Forgotten",
    "PurgeResult",
    "erase_child",
    "forget_person",
    "purge_children",
    "remove_child",
]


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What forgetting a person did to their children."""

    children_erased: int
    # Children another guardian still looks after: kept for them.
    children_kept: int


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Children whose data a purge erased (or, in a dry run, would erase)."""

    cutoff: date
    children: int
    registrations: int
    dry_run: bool


async def _withdraw_consents(uow: UnitOfWork, now: datetime, *where: ColumnElement[bool]) -> None:
    await uow.session.execute(
        update(ConsentRow)
        .where(ConsentRow.withdrawn_at.is_(None), *where)
        .values(withdrawn_at=now)
    )


async def erase_child(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    child_id: int,
    *,
    actor_person_id: int | None,
    now: datetime,
) -> None:
    """Erase a child's personal data, ending its registrations for seasons still to come."""
    live = await uow.session.scalars(
        select(RegistrationRow.id)
        .join(SeasonRow, SeasonRow.id == RegistrationRow.season_id)
        # A season that is over is history the reports count: it is left as it ended.
        .where(
            RegistrationRow.child_id == child_id,
            RegistrationRow.status.not_in(ENDED),
            SeasonRow.ends_on >= now.date(),
        )
    )
    for registration_id in list(live):
        await end_for_erasure(
            uow, notify, registration_id, actor_person_id=actor_person_id, now=now
        )
    await _withdraw_consents(uow, now, ConsentRow.child_id == child_id)
    await uow.session.execute(delete(ChildInviteRow).where(ChildInviteRow.child_id == child_id))
    registered = await uow.session.scalar(
        select(exists().where(RegistrationRow.child_id == child_id))
    )
    if registered:
        # Only the birth year stays: an age group, not a birthday.
        await uow.session.execute(
            update(ChildRow)
            .where(ChildRow.id == child_id)
            .values(name="", birth_month=1, gender=None, health_notes=None, erased_at=now)
        )
        # A coordinator's reason may name the child.
        await uow.session.execute(
            update(RegistrationRow).where(RegistrationRow.child_id == child_id).values(reason="")
        )
    else:
        await uow.session.execute(delete(ChildRow).where(ChildRow.id == child_id))
    await record_event(
        uow,
        "child.erased",
        actor_person_id=actor_person_id,
        subject_type="child",
        subject_id=child_id,
    )


async def _other_guardians(uow: UnitOfWork, child_id: int, person_id: int) -> int:
    """How many guardians besides the person still look after the child."""
    return int(
        await uow.session.scalar(
            select(func.count())
            .select_from(GuardianRow)
            .join(PersonRow, PersonRow.id == GuardianRow.person_id)
            .where(
                GuardianRow.child_id == child_id,
                GuardianRow.person_id != person_id,
                PersonRow.erased_at.is_(None),
            )
        )
        or 0
    )


async def remove_child(
    uow: UnitOfWork, notify: FamilyNotifier, person_id: int, child_id: int, now: datetime
) -> bool:
    """Withdraw the person's consent for a child; erase the child unless a guardian remains.

    Returns whether the child's data was erased.

    Raises:
        NotFound: not the person's child.
    """
    await get_child(uow, person_id, child_id)
    await _withdraw_consents(
        uow, now, ConsentRow.child_id == child_id, ConsentRow.person_id == person_id
    )
    if await _other_guardians(uow, child_id, person_id):
        await uow.session.execute(
            delete(GuardianRow).where(
                GuardianRow.child_id == child_id, GuardianRow.person_id == person_id
            )
        )
        await drop_open_invites(uow, child_id, person_id)
        await record_event(
            uow,
            "child.left",
            actor_person_id=person_id,
            subject_type="child",
            subject_id=child_id,
        )
        return False
    await erase_child(uow, notify, child_id, actor_person_id=person_id, now=now)
    return True


async def forget_person(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    workshop_notify: WorkshopNotifier,
    person_id: int,
    now: datetime,
) -> Forgotten:
    """Erase everything about a person; their next message starts afresh, as a stranger's."""
    erased = kept = 0
    child_ids = await uow.session.scalars(
        select(GuardianRow.child_id)
        .join(ChildRow, ChildRow.id == GuardianRow.child_id)
        .where(GuardianRow.person_id == person_id, ChildRow.erased_at.is_(None))
    )
    for child_id in list(child_ids):
        # The link stays either way, to an emptied person: the child's other guardian
        # keeps the child, and the year's count of parents stays right.
        if await _other_guardians(uow, child_id, person_id):
            kept += 1
        else:
            await erase_child(uow, notify, child_id, actor_person_id=person_id, now=now)
            erased += 1
    bookings = await uow.session.scalars(
        select(BookingRow.id)
        .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
        .where(
            BookingRow.person_id == person_id,
            BookingRow.status.in_(LIVE),
            WorkshopRow.starts_at > now,
        )
    )
    for booking_id in list(bookings):
        await cancel_booking(uow, workshop_notify, person_id, booking_id, now)
    booked = select(BookingRow.id).where(BookingRow.person_id == person_id)
    await uow.session.execute(
        update(FeedbackRow).where(FeedbackRow.booking_id.in_(booked)).values(comment="")
    )
    # A workshop's reminders and feedback question are the workshop's: whoever is forgotten
    # is left out when they go (`workshops.fire_push`).
    await stop_pending_for(uow, person_id)
    # The rows stay for the broadcasts' delivery counts; what they said goes.
    await uow.session.execute(
        update(OutboxRow)
        .where(OutboxRow.person_id == person_id)
        .values(content=[], recipient="", last_error="")
    )
    # The person row stays (emptied), so its cascades never run: each table goes by hand.
    for table in (TipSubscriptionRow, RoleRow, IdentityRow, InviteAttemptRow):
        await uow.session.execute(delete(table).where(table.person_id == person_id))
    await uow.session.execute(delete(ChildInviteRow).where(ChildInviteRow.created_by == person_id))
    await _withdraw_consents(uow, now, ConsentRow.person_id == person_id)
    await uow.session.execute(
        update(PersonRow)
        .where(PersonRow.id == person_id)
        # The factory stays: the tips counted for it are its workers'.
        .values(
            display_name=None,
            language=None,
            onboarded_at=None,
            privacy_version=None,
            status=PersonStatus.STOPPED.value,
            erased_at=now,
        )
    )
    await record_event(
        uow,
        "person.erased",
        actor_person_id=person_id,
        subject_type="person",
        subject_id=person_id,
        children_erased=erased,
        children_kept=kept,
    )
    return Forgotten(erased, kept)


async def purge_children(
    uow: UnitOfWork,
    notify: FamilyNotifier,
    *,
    retention_days: int,
    today: date,
    now: datetime,
    dry_run: bool = False,
) -> PurgeResult:
    """Erase the children whose last season ended more than `retention_days` ago.

    A registration for a later season, whatever became of it, counts as registering again.
    A real run is recorded in the audit log; a dry run changes nothing.
    """
    cutoff = today - timedelta(days=retention_days)
    last_season = (
        select(RegistrationRow.child_id, func.max(SeasonRow.ends_on).label("ends_on"))
        .join(SeasonRow, SeasonRow.id == RegistrationRow.season_id)
        .group_by(RegistrationRow.child_id)
        .subquery()
    )
    due = list(
        await uow.session.scalars(
            select(ChildRow.id)
            .join(last_season, last_season.c.child_id == ChildRow.id)
            .where(ChildRow.erased_at.is_(None), last_season.c.ends_on < cutoff)
            .order_by(ChildRow.id)
        )
    )
    registrations = 0
    if due:
        registrations = int(
            await uow.session.scalar(
                select(func.count())
                .select_from(RegistrationRow)
                .where(RegistrationRow.child_id.in_(due))
            )
            or 0
        )
    result = PurgeResult(cutoff, len(due), registrations, dry_run)
    if dry_run:
        return result
    for child_id in due:
        await erase_child(uow, notify, child_id, actor_person_id=None, now=now)
    await record_event(
        uow,
        "privacy.purge",
        subject_type="child",
        children=len(due),
        registrations=registrations,
        retention_days=retention_days,
        cutoff=cutoff.isoformat(),
    )
    return result
