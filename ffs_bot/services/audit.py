"""The audit log: who did what to which record (never message texts or names)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from ffs_bot.db.sql import table_of
from ffs_bot.db.tables import AuditEventRow
from ffs_bot.db.uow import UnitOfWork

__all__ = ["AuditEntry", "list_events", "record_event"]

# A Core insert, not an ORM row: adding a row to the session cost more than the insert.
_ADD_EVENT = insert(table_of(AuditEventRow))


async def record_event(
    uow: UnitOfWork,
    action: str,
    *,
    actor_person_id: int | None = None,
    subject_type: str = "",
    subject_id: str | int = "",
    **details: Any,
) -> None:
    """Add an audit event to the unit of work."""
    await uow.session.execute(
        _ADD_EVENT,
        {
            "action": action,
            "actor_person_id": actor_person_id,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "details": details,
        },
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log."""

    at: datetime
    actor_person_id: int | None
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]


async def list_events(
    uow: UnitOfWork, since: datetime | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Audit events from `since` on, oldest first."""
    query = select(AuditEventRow).order_by(AuditEventRow.at, AuditEventRow.id).limit(limit)
    if since is not None:
        query = query.where(AuditEventRow.at >= since)
    return [
        AuditEntry(
            row.at, row.actor_person_id, row.action, row.subject_type, row.subject_id, row.details
        )
        for row in await uow.session.scalars(query)
    ]
