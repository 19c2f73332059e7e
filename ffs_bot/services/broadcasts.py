"""Broadcasts: staff send a message to many people, now or at a chosen time, through the outbox.

Each recipient gets the text in their language (the one text there is, when only one was
written), on every channel they use, as an outbox row keyed by (broadcast, account): queuing
twice queues nothing more. People who stopped the bot are left out. A scheduled broadcast is
queued by the worker when its time comes, once whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import CursorResult, func, select, update

from ffs_bot.db.tables import (
    BookingRow,
    BroadcastRow,
    GuardianRow,
    IdentityRow,
    OutboxRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    WorkshopRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ffs_bot.i18n import Translator, Translators, negotiate_language
from ffs_bot.messages import Reply
from ffs_bot.model import PersonStatus
from ffs_bot.notices import tell_people
from ffs_bot.outbox import OutboxStatus, enqueue
from ffs_bot.services.audit import record_event
from ffs_bot.services.staff import StaffScope, staff_scope

__all__ = [
    "MAX_TEXT",
    "Audience",
    "AudienceKind",
    "Broadcast",
    "Progress",
    "audience_languages",
    "cancel_broadcast",
    "create_broadcast",
    "finish_broadcasts",
    "get_broadcast",
    "progress",
    "queue_due_broadcasts",
    "recent_broadcasts",
    "render_report",
]

MAX_TEXT = 1000  # what one chat message may carry here (handlers.text.MAX_INPUT_CHARS)
ENDED = ("cancelled", "declined")


class AudienceKind(StrEnum):
    """Who a broadcast goes to."""

    FACTORIES = "factories"  # every active worker at these factories
    SEASON = "season"  # the guardians of children registered for a season
    WORKSHOP = "workshop"  # the people booked on a workshop (or waiting)
    EVERYONE = "everyone"  # programme admins only


@dataclass(frozen=True, slots=True)
class Audience:
    """A broadcast's audience: its kind and the factory, season or workshop ids it names."""

    kind: AudienceKind
    ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The audience as stored with the broadcast."""
        return {"kind": self.kind.value, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        """Rebuild an audience stored by `to_json`."""
        return cls(AudienceKind(data["kind"]), tuple(int(i) for i in data.get("ids", [])))


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A broadcast as staff see it."""

    id: int
    created_by: int | None
    text_zh: str
    text_en: str
    audience: Audience
    status: str
    send_at: datetime
    recipients: int


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast's pushes stand."""

    status: str
    recipients: int
    queued: int
    sent: int
    failed: int
    blocked: int


def _broadcast(row: BroadcastRow) -> Broadcast:
    return Broadcast(
        id=row.id,
        created_by=row.created_by,
        text_zh=row.text_zh,
        text_en=row.text_en,
        audience=Audience.from_json(row.audience),
        status=row.status,
        send_at=row.send_at,
        recipients=row.recipients,
    )


async def _factories_of(uow: UnitOfWork, audience: Audience) -> set[int]:
    """The factories an audience reaches into, to check the sender's scope."""
    if audience.kind is AudienceKind.FACTORIES:
        return set(audience.ids)
    if audience.kind is AudienceKind.SEASON:
        rows = await uow.session.scalars(
            select(SeasonRow.factory_id).where(SeasonRow.id.in_(audience.ids))
        )
    else:
        rows = await uow.session.scalars(
            select(WorkshopRow.factory_id).where(WorkshopRow.id.in_(audience.ids))
        )
    found = set(rows)
    if len(found) < 1:
        raise NotFound(f"{audience.kind.value} {audience.ids}")
    return found


async def _check(uow: UnitOfWork, actor_person_id: int, audience: Audience) -> StaffScope:
    scope = await staff_scope(uow, actor_person_id)
    if not scope.is_staff:
        raise Forbidden(f"person {actor_person_id} is not staff")
    if audience.kind is AudienceKind.EVERYONE:
        if not scope.every_factory:
            raise Forbidden("only programme admins write to everyone")
        return scope
    if not audience.ids:
        raise InvalidInput("audience")
    if not all(scope.covers(factory) for factory in await _factories_of(uow, audience)):
        raise Forbidden(f"person {actor_person_id} may not write to {audience.to_json()}")
    return scope


def _people(audience: Audience) -> Any:
    """A query for the ids of the active, signed-up people an audience reaches."""
    active = (PersonRow.status == PersonStatus.ACTIVE.value, PersonRow.onboarded_at.is_not(None))
    if audience.kind is AudienceKind.EVERYONE:
        return select(PersonRow.id).where(*active)
    if audience.kind is AudienceKind.FACTORIES:
        return select(PersonRow.id).where(*active, PersonRow.factory_id.in_(audience.ids))
    if audience.kind is AudienceKind.SEASON:
        return (
            select(PersonRow.id)
            .join(GuardianRow, GuardianRow.person_id == PersonRow.id)
            .join(RegistrationRow, RegistrationRow.child_id == GuardianRow.child_id)
            .where(
                *active,
                RegistrationRow.season_id.in_(audience.ids),
                RegistrationRow.status.not_in(ENDED),
            )
            .distinct()
        )
    return (
        select(PersonRow.id)
        .join(BookingRow, BookingRow.person_id == PersonRow.id)
        .where(*active, BookingRow.workshop_id.in_(audience.ids), BookingRow.status != "cancelled")
        .distinct()
    )


def _text_for(language: str, text_zh: str, text_en: str) -> str:
    if language == "en":
        return text_en or text_zh
    return text_zh or text_en


async def _accounts(uow: UnitOfWork, audience: Audience) -> list[tuple[int, int, str, str, str]]:
    """(person, account, channel, user id, language) for everyone the audience reaches."""
    rows = await uow.session.execute(
        select(
            PersonRow.id,
            IdentityRow.id,
            IdentityRow.channel,
            IdentityRow.external_user_id,
            PersonRow.language,
            IdentityRow.language_hint,
        )
        .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
        .where(PersonRow.id.in_(_people(audience)))
        .order_by(PersonRow.id, IdentityRow.id)
    )
    return [
        (person, identity, channel, user, language or negotiate_language(hint))
        for person, identity, channel, user, language, hint in rows
    ]


async def audience_languages(
    uow: UnitOfWork, actor_person_id: int, audience: Audience
) -> dict[str, int]:
    """How many people an audience reaches, per language (for the preview).

    Raises:
        Forbidden: the audience reaches beyond the sender's factories.
        NotFound: no such season or workshop.
    """
    await _check(uow, actor_person_id, audience)
    languages: dict[int, str] = {}
    for person, _identity, _channel, _user, language in await _accounts(uow, audience):
        languages.setdefault(person, language)
    counts: dict[str, int] = {}
    for language in languages.values():
        counts[language] = counts.get(language, 0) + 1
    return counts


def _clean(text: str) -> str:
    cleaned = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput("text")
    return cleaned


async def create_broadcast(
    uow: UnitOfWork,
    actor_person_id: int,
    *,
    text_zh: str,
    text_en: str,
    audience: Audience,
    send_at: datetime | None = None,
    now: datetime | None = None,
) -> Broadcast:
    """Send a broadcast now, or schedule it for `send_at`.

    Raises:
        InvalidInput: "text" (none, or too long), "send_at" (in the past), "audience".
        Forbidden, NotFound: as for `audience_languages`.
    """
    now = now or utcnow()
    text_zh, text_en = _clean(text_zh), _clean(text_en)
    if not text_zh and not text_en:
        raise InvalidInput("text")
    if send_at is not None and send_at <= now:
        raise InvalidInput("send_at")
    await _check(uow, actor_person_id, audience)
    row = BroadcastRow(
        created_by=actor_person_id,
        text_zh=text_zh,
        text_en=text_en,
        audience=audience.to_json(),
        status="scheduled",
        send_at=send_at or now,
        recipients=0,
        created_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    await record_event(
        uow,
        "broadcast.created",
        actor_person_id=actor_person_id,
        subject_type="broadcast",
        subject_id=row.id,
        audience=audience.to_json(),
        scheduled=send_at is not None,
    )
    if send_at is None:
        await _queue(uow, row, now)
    return _broadcast(row)


async def _queue(uow: UnitOfWork, row: BroadcastRow, now: datetime) -> int:
    taken = await uow.session.execute(
        update(BroadcastRow)
        .where(BroadcastRow.id == row.id, BroadcastRow.status == "scheduled")
        .values(status="sending", queued_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(taken, CursorResult)
    if taken.rowcount != 1:  # another worker queued it, or it was cancelled meanwhile
        return 0
    people: set[int] = set()
    for person, identity, channel, user, language in await _accounts(
        uow, Audience.from_json(row.audience)
    ):
        people.add(person)
        await enqueue(
            uow,
            channel=channel,
            recipient=user,
            replies=[Reply(_text_for(language, row.text_zh, row.text_en))],
            idempotency_key=f"broadcast:{row.id}:{identity}",
            broadcast_id=row.id,
        )
    await uow.session.execute(
        update(BroadcastRow)
        .where(BroadcastRow.id == row.id)
        .values(recipients=len(people))
        .execution_options(synchronize_session=False)
    )
    await uow.session.refresh(row)
    return len(people)


async def queue_due_broadcasts(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Queue scheduled broadcasts whose time has come; return how many."""
    now = now or utcnow()
    query = select(BroadcastRow).where(
        BroadcastRow.status == "scheduled", BroadcastRow.send_at <= now
    )
    if uow.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    queued = 0
    for row in list(await uow.session.scalars(query)):
        await _queue(uow, row, now)
        queued += 1
    return queued


async def _own(uow: UnitOfWork, actor_person_id: int, broadcast_id: int) -> BroadcastRow:
    row = await uow.session.get(BroadcastRow, broadcast_id)
    if row is None:
        raise NotFound(f"broadcast {broadcast_id}")
    scope = await staff_scope(uow, actor_person_id)
    if row.created_by != actor_person_id and not scope.every_factory:
        raise Forbidden(f"broadcast {broadcast_id} is someone else's")
    return row


async def get_broadcast(uow: UnitOfWork, actor_person_id: int, broadcast_id: int) -> Broadcast:
    """A broadcast its sender (or an admin) may see.

    Raises:
        NotFound: no such broadcast.
        Forbidden: someone else's.
    """
    return _broadcast(await _own(uow, actor_person_id, broadcast_id))


async def recent_broadcasts(
    uow: UnitOfWork, actor_person_id: int, limit: int = 5
) -> list[Broadcast]:
    """The person's latest broadcasts (every one for an admin), newest first."""
    scope = await staff_scope(uow, actor_person_id)
    query = select(BroadcastRow).order_by(BroadcastRow.id.desc()).limit(limit)
    if not scope.every_factory:
        query = query.where(BroadcastRow.created_by == actor_person_id)
    return [_broadcast(row) for row in await uow.session.scalars(query)]


async def cancel_broadcast(
    uow: UnitOfWork, actor_person_id: int, broadcast_id: int, now: datetime | None = None
) -> None:
    """Cancel a scheduled broadcast before it goes.

    Raises:
        NotFound, Forbidden: as for `get_broadcast`.
        ConflictError: it is being sent, was sent, or was cancelled already.
    """
    row = await _own(uow, actor_person_id, broadcast_id)
    cancelled = await uow.session.execute(
        update(BroadcastRow)
        .where(BroadcastRow.id == row.id, BroadcastRow.status == "scheduled")
        .values(status="cancelled", cancelled_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    assert isinstance(cancelled, CursorResult)
    if cancelled.rowcount != 1:
        raise ConflictError(row.status)
    await record_event(
        uow,
        "broadcast.cancelled",
        actor_person_id=actor_person_id,
        subject_type="broadcast",
        subject_id=row.id,
    )


async def _counts(uow: UnitOfWork, broadcast_id: int) -> dict[str, int]:
    rows = await uow.session.execute(
        select(OutboxRow.status, func.count())
        .where(OutboxRow.broadcast_id == broadcast_id)
        .group_by(OutboxRow.status)
    )
    return {status: int(count) for status, count in rows}


async def progress(uow: UnitOfWork, actor_person_id: int, broadcast_id: int) -> Progress:
    """Queued, sent, failed and blocked pushes of a broadcast.

    Raises:
        NotFound, Forbidden: as for `get_broadcast`.
    """
    row = await _own(uow, actor_person_id, broadcast_id)
    counts = await _counts(uow, broadcast_id)
    return Progress(
        status=row.status,
        recipients=row.recipients,
        queued=counts.get(OutboxStatus.PENDING.value, 0)
        + counts.get(OutboxStatus.SENDING.value, 0),
        sent=counts.get(OutboxStatus.SENT.value, 0),
        failed=counts.get(OutboxStatus.FAILED.value, 0),
        blocked=counts.get(OutboxStatus.STOPPED.value, 0),
    )


def render_report(t: Translator, broadcast_id: int, counts: dict[str, int]) -> Reply:
    """The delivery report the sender gets when every push has been settled."""
    return Reply(
        t._(
            "Your broadcast #{id} has gone out: sent {sent}, failed {failed}, blocked {blocked}.",
            id=broadcast_id,
            sent=counts.get(OutboxStatus.SENT.value, 0),
            failed=counts.get(OutboxStatus.FAILED.value, 0),
            blocked=counts.get(OutboxStatus.STOPPED.value, 0),
        )
    )


async def finish_broadcasts(
    uow: UnitOfWork, translators: Translators, now: datetime | None = None
) -> int:
    """Mark broadcasts whose pushes are all settled as sent and tell each sender."""
    finished = 0
    for row in list(
        await uow.session.scalars(select(BroadcastRow).where(BroadcastRow.status == "sending"))
    ):
        counts = await _counts(uow, row.id)
        if counts.get(OutboxStatus.PENDING.value) or counts.get(OutboxStatus.SENDING.value):
            continue
        done = await uow.session.execute(
            update(BroadcastRow)
            .where(BroadcastRow.id == row.id, BroadcastRow.status == "sending")
            .values(status="sent", finished_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        assert isinstance(done, CursorResult)
        if done.rowcount != 1:
            continue
        finished += 1
        if row.created_by is not None:
            await tell_people(
                uow,
                translators,
                [row.created_by],
                f"broadcast-report:{row.id}",
                partial(render_report, broadcast_id=row.id, counts=counts),
            )
    return finished
