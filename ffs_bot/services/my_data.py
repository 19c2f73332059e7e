"""My data: everything held about a person and their children, to read or take away.

`collect` gathers it as plain JSON values; `data_files` makes the JSON and CSV files a
person gets in chat. Only the person's own data and their children's: another guardian of
the same child is a count, never a name, and who decided a registration is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from ffs_bot.db.tables import (
    AttendanceRow,
    BookingRow,
    ChildRow,
    ConsentRow,
    ConversationRow,
    FactoryRow,
    FeedbackRow,
    IdentityRow,
    OutboxRow,
    PersonRow,
    RegistrationRow,
    RoleRow,
    SeasonRow,
    TipDeliveryRow,
    TipSubscriptionRow,
    WorkshopRow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import NotFound
from ffs_bot.services.children import list_children
from ffs_bot.spreadsheets import CSV_MIME, ExportFile, Table, to_csv

__all__ = ["JSON_MIME", "collect", "data_files", "flatten"]

JSON_MIME = "application/json"
Json = dict[str, Any]


def _when(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


async def _person(uow: UnitOfWork, person_id: int) -> Json:
    found = (
        await uow.session.execute(
            select(PersonRow, FactoryRow.code)
            .outerjoin(FactoryRow, FactoryRow.id == PersonRow.factory_id)
            .where(PersonRow.id == person_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"person {person_id}")
    row, factory = found
    return {
        "name": row.display_name,
        "language": row.language,
        "factory": factory,
        "status": row.status,
        "privacy_notice_version": row.privacy_version,
        "first_contact": _when(row.created_at),
        "signed_up": _when(row.onboarded_at),
    }


async def _accounts(uow: UnitOfWork, person_id: int) -> list[Json]:
    rows = await uow.session.execute(
        select(IdentityRow, ConversationRow)
        .outerjoin(ConversationRow, ConversationRow.identity_id == IdentityRow.id)
        .where(IdentityRow.person_id == person_id)
        .order_by(IdentityRow.id)
    )
    return [
        {
            "channel": identity.channel,
            "account": identity.external_user_id,
            "app_language": identity.language_hint,
            "first_seen": _when(identity.created_at),
            "last_seen": _when(identity.last_seen_at),
            "conversation_step": None if conversation is None else conversation.step,
            "conversation_data": None if conversation is None else conversation.data,
        }
        for identity, conversation in rows
    ]


async def _consents(uow: UnitOfWork, person_id: int) -> list[Json]:
    rows = await uow.session.execute(
        select(ConsentRow, ChildRow.name)
        .outerjoin(ChildRow, ChildRow.id == ConsentRow.child_id)
        .where(ConsentRow.person_id == person_id)
        .order_by(ConsentRow.id)
    )
    return [
        {
            "kind": row.kind,
            "notice_version": row.notice_version,
            "child": name or None,
            "agreed": row.granted,
            "at": _when(row.created_at),
            "withdrawn": _when(row.withdrawn_at),
        }
        for row, name in rows
    ]


async def _children(uow: UnitOfWork, person_id: int) -> list[Json]:
    children = await list_children(uow, person_id)
    registrations: dict[int, list[Json]] = {child.id: [] for child in children}
    rows = await uow.session.execute(
        select(RegistrationRow, SeasonRow, FactoryRow.code)
        .join(SeasonRow, SeasonRow.id == RegistrationRow.season_id)
        .join(FactoryRow, FactoryRow.id == SeasonRow.factory_id)
        .where(RegistrationRow.child_id.in_(list(registrations)))
        .order_by(RegistrationRow.id)
    )
    by_id: dict[int, Json] = {}
    for registration, season, factory in rows:
        entry: Json = {
            "factory": factory,
            "season": f"{season.starts_on.isoformat()}/{season.ends_on.isoformat()}",
            "from": _when(registration.starts_on),
            "to": _when(registration.ends_on),
            "status": registration.status,
            "reason": registration.reason,
            "registered": _when(registration.created_at),
            "days_attended": [],
        }
        by_id[registration.id] = entry
        registrations[registration.child_id].append(entry)
    if by_id:
        days = await uow.session.execute(
            select(AttendanceRow)
            .where(AttendanceRow.registration_id.in_(list(by_id)))
            .order_by(AttendanceRow.day)
        )
        for (day,) in days:
            by_id[day.registration_id]["days_attended"].append(
                {
                    "day": _when(day.day),
                    "in": _when(day.checked_in_at),
                    "out": _when(day.checked_out_at),
                }
            )
    return [
        {
            "name": child.name,
            "birth_month": f"{child.birth_year:04d}-{child.birth_month:02d}",
            "gender": None if child.gender is None else child.gender.value,
            "health_notes": child.health_notes,
            "you_are": child.relationship.value,
            "other_guardians": child.guardians - 1,
            "registrations": registrations[child.id],
        }
        for child in children
    ]


async def _bookings(uow: UnitOfWork, person_id: int) -> list[Json]:
    rows = await uow.session.execute(
        select(BookingRow, WorkshopRow, FactoryRow.code, FeedbackRow)
        .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
        .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
        .outerjoin(FeedbackRow, FeedbackRow.booking_id == BookingRow.id)
        .where(BookingRow.person_id == person_id)
        .order_by(WorkshopRow.starts_at, BookingRow.id)
    )
    return [
        {
            "workshop": workshop.topic,
            "factory": factory,
            "starts": _when(workshop.starts_at),
            "status": booking.status,
            "code": booking.code,
            "checked_in": _when(booking.checked_in_at),
            "rating": None if feedback is None else feedback.rating,
            "comment": None if feedback is None else feedback.comment,
        }
        for booking, workshop, factory, feedback in rows
    ]


async def _tips(uow: UnitOfWork, person_id: int) -> Json:
    subscription = await uow.session.get(TipSubscriptionRow, person_id)
    sent = await uow.session.scalars(
        select(TipDeliveryRow)
        .where(TipDeliveryRow.person_id == person_id)
        .order_by(TipDeliveryRow.id)
    )
    return {
        "subscription": None
        if subscription is None
        else {
            "frequency": subscription.frequency,
            "hour": subscription.hour,
            "active": subscription.active,
            "next": _when(subscription.next_at),
        },
        "received": [
            {"tip": row.tip_id, "sent": _when(row.sent_at), "helpful": row.helpful} for row in sent
        ],
    }


async def _roles(uow: UnitOfWork, person_id: int) -> list[Json]:
    rows = await uow.session.execute(
        select(RoleRow.role, FactoryRow.code)
        .outerjoin(FactoryRow, FactoryRow.id == RoleRow.factory_id)
        .where(RoleRow.person_id == person_id)
        .order_by(RoleRow.id)
    )
    return [{"role": role, "factory": factory} for role, factory in rows]


async def _messages(uow: UnitOfWork, person_id: int) -> list[Json]:
    rows = await uow.session.scalars(
        select(OutboxRow).where(OutboxRow.person_id == person_id).order_by(OutboxRow.id)
    )
    return [
        {
            "queued": _when(row.created_at),
            "status": row.status,
            "sent": _when(row.sent_at),
            "text": "\n\n".join(str(part.get("text", "")) for part in row.content),
        }
        for row in rows
    ]


async def collect(uow: UnitOfWork, person_id: int) -> Json:
    """Everything held about the person and their children, as JSON values.

    Raises:
        NotFound: there is no such person.
    """
    return {
        "you": await _person(uow, person_id),
        "accounts": await _accounts(uow, person_id),
        "consents": await _consents(uow, person_id),
        "children": await _children(uow, person_id),
        "workshop_bookings": await _bookings(uow, person_id),
        "tips": await _tips(uow, person_id),
        "staff_roles": await _roles(uow, person_id),
        "messages_to_you": await _messages(uow, person_id),
    }


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every leaf of JSON values as (dotted path, text); lists are numbered from 1."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((str(i), item) for i, item in enumerate(value, 1))
    else:
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else value
        yield path, str(text)
        return
    empty = True
    for key, item in items:
        empty = False
        yield from flatten(item, f"{path}.{key}" if path else str(key))
    if empty and path:
        yield path, ""


def data_files(data: Json, stem: str, header: tuple[str, str]) -> list[ExportFile]:
    """The data as a JSON file and a CSV file of (field, value) rows."""
    as_json = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    table = Table(stem, header, [(path, text) for path, text in flatten(data)])
    return [
        ExportFile(f"{stem}.json", as_json, JSON_MIME),
        ExportFile(f"{stem}.csv", to_csv(table), CSV_MIME),
    ]
