"""My data: everything held about a person and their children, to read or take away.

`collect` gathers it as plain JSON values; `data_files` makes the JSON and CSV files a
person gets in chat: the JSON for programs, as stored; the CSV for the person to read, in
their language and on their factory's clock. Only the person's own data and their
children's: another guardian of the same child is a count, never a name, and who decided a
registration is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from ffs_bot.i18n import N_, Translator
from ffs_bot.model import Gender, Relationship
from ffs_bot.privacy import CHILD_CONSENT, HEALTH_CONSENT, PRIVACY_CONSENT
from ffs_bot.services.children import list_children
from ffs_bot.spreadsheets import CSV_MIME, Cell, ExportFile, Table, to_csv

__all__ = ["CHANNEL_NAMES", "JSON_MIME", "collect", "data_files", "factory_names"]

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


# The channels as people call them, not as the code does.
CHANNEL_NAMES = {
    "wechat": N_("WeChat"),
    "telegram": N_("Telegram"),
    "console": N_("Test chat on a computer"),
}

# What each field of `collect` is called in the CSV; a field not named here (inside a saved
# conversation) keeps its key.
_LABELS = {
    "you": N_("You"),
    "name": N_("Name"),
    "language": N_("Language"),
    "factory": N_("Factory"),
    "status": N_("Status"),
    "privacy_notice_version": N_("Privacy notice version"),
    "first_contact": N_("First message"),
    "signed_up": N_("Signed up"),
    "accounts": N_("Chat account"),
    "channel": N_("Channel"),
    "account": N_("Account"),
    "app_language": N_("App language"),
    "first_seen": N_("First seen"),
    "last_seen": N_("Last seen"),
    "conversation_step": N_("Where the chat was"),
    "conversation_data": N_("What the chat kept"),
    "consents": N_("Agreement"),
    "kind": N_("About"),
    "notice_version": N_("Notice version"),
    "child": N_("Child"),
    "agreed": N_("Agreed"),
    "at": N_("When"),
    "withdrawn": N_("Withdrawn"),
    "children": N_("Child"),
    "birth_month": N_("Born"),
    "gender": N_("Boy or girl"),
    "health_notes": N_("Health notes"),
    "you_are": N_("You are the"),
    "other_guardians": N_("Other parents or carers"),
    "registrations": N_("Summer space registration"),
    "season": N_("Season"),
    "from": N_("From"),
    "to": N_("To"),
    "reason": N_("Reason"),
    "registered": N_("Registered"),
    "days_attended": N_("Day attended"),
    "day": N_("Day"),
    "in": N_("Checked in"),
    "out": N_("Checked out"),
    "workshop_bookings": N_("Workshop booking"),
    "workshop": N_("Workshop"),
    "starts": N_("Starts"),
    "code": N_("Booking code"),
    "checked_in": N_("Checked in"),
    "rating": N_("Rating"),
    "comment": N_("Comment"),
    "tips": N_("Parenting tips"),
    "subscription": N_("Tips on"),
    "frequency": N_("How often"),
    "hour": N_("Hour"),
    "active": N_("On"),
    "next": N_("Next"),
    "received": N_("Tip received"),
    "tip": N_("Tip"),
    "sent": N_("Sent"),
    "helpful": N_("Helpful"),
    "staff_roles": N_("Staff role"),
    "role": N_("Role"),
    "messages_to_you": N_("Message to you"),
    "queued": N_("Written"),
    "text": N_("Text"),
}
# Fields whose values are points in time, shown on the factory's clock.
_MOMENTS = frozenset(
    {"first_contact", "signed_up", "first_seen", "last_seen", "at", "withdrawn", "registered"}
    | {"in", "out", "starts", "checked_in", "next", "sent", "queued"}
)
# Stored words shown as words people use, by field.
_WORDS: dict[str, dict[str, str]] = {
    "status": {
        "active": N_("active"),
        "stopped": N_("stopped"),
        "silent": N_("not written yet"),
        "requested": N_("to confirm"),
        "confirmed": N_("confirmed"),
        "waitlisted": N_("waiting"),
        "offered": N_("offered a place"),
        "cancelled": N_("cancelled"),
        "declined": N_("declined"),
        "pending": N_("not sent yet"),
        "sending": N_("sending"),
        "sent": N_("sent"),
        "failed": N_("failed"),
        "blocked": N_("blocked"),
    },
    "channel": CHANNEL_NAMES,
    "kind": {
        PRIVACY_CONSENT: N_("Privacy notice"),
        CHILD_CONSENT: N_("Child's information"),
        HEALTH_CONSENT: N_("Health notes"),
    },
    "gender": {Gender.GIRL.value: N_("Girl"), Gender.BOY.value: N_("Boy")},
    "you_are": {
        Relationship.MOTHER.value: N_("Mother"),
        Relationship.FATHER.value: N_("Father"),
        Relationship.GRANDPARENT.value: N_("Grandparent"),
        Relationship.OTHER.value: N_("Other family or carer"),
    },
    "frequency": {
        "daily": N_("every day"),
        "twice_weekly": N_("twice a week (Wednesday and Sunday)"),
        "weekly": N_("once a week (Sunday)"),
    },
    "role": {
        "admin": N_("Programme admin (every factory)"),
        "coordinator": N_("Factory coordinator"),
        "sponsor": N_("Sponsor viewer (counts only)"),
    },
    "language": {"zh_Hans": N_("Chinese"), "en": N_("English")},
    "app_language": {"zh_Hans": N_("Chinese"), "en": N_("English")},
}


async def factory_names(uow: UnitOfWork, language: str) -> dict[str, str]:
    """Every factory's name in `language`, by its code."""
    rows = await uow.session.execute(
        select(FactoryRow.code, FactoryRow.name_zh, FactoryRow.name_en)
    )
    return {code: name_en if language == "en" else name_zh for code, name_zh, name_en in rows}


def _local(text: str, timezone: str) -> datetime | str:
    """A stored moment as the factory's wall-clock time; a plain day stays as it is."""
    if "T" not in text:
        return text
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def _readable(
    value: Any,
    labels: list[str],
    key: str,
    t: Translator,
    timezone: str,
    factories: Mapping[str, str],
) -> Iterator[tuple[str, Cell]]:
    """Every leaf as (its label, its value as the person reads it)."""
    if isinstance(value, dict | list):
        items: Any = value.items() if isinstance(value, dict) else enumerate(value, 1)
        empty = True
        for part, item in items:
            empty = False
            if isinstance(part, int):
                # The n-th of a list is numbered on the label of the list.
                yield from _readable(
                    item, [*labels[:-1], f"{labels[-1]} {part}"], key, t, timezone, factories
                )
            else:
                label = t._(_LABELS[part]) if part in _LABELS else part
                yield from _readable(item, [*labels, label], part, t, timezone, factories)
        if empty and labels:
            yield " · ".join(labels), ""
        return
    cell: Cell
    if value is None:
        cell = ""
    elif isinstance(value, bool):
        cell = t._("yes") if value else t._("no")
    elif key in _MOMENTS and isinstance(value, str):
        cell = _local(value, timezone)
    elif key == "factory" and isinstance(value, str):
        cell = factories.get(value, value)
    elif key == "hour" and isinstance(value, int):
        cell = f"{value:02d}:00"
    elif isinstance(value, str) and value in _WORDS.get(key, {}):
        cell = t._(_WORDS[key][value])
    else:
        cell = value if isinstance(value, int | str) else str(value)
    yield " · ".join(labels), cell


def data_files(
    data: Json,
    stem: str,
    t: Translator,
    timezone: str,
    factories: Mapping[str, str],
) -> list[ExportFile]:
    """The data as a JSON file, and as a CSV file of (field, value) rows the person reads.

    The CSV names each field in `t`'s language, shows times on `timezone`'s clock, stored
    words as words and factories by name (`factories`, by code); the JSON keeps the data
    as stored, in UTC.
    """
    as_json = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    rows: list[tuple[Cell, ...]] = list(_readable(data, [], "", t, timezone, factories))
    table = Table(stem, (t._("Field"), t._("Value")), rows)
    return [
        ExportFile(f"{stem}.json", as_json, JSON_MIME),
        ExportFile(f"{stem}.csv", to_csv(table), CSV_MIME),
    ]
