"""The audit log: who did what to which record (never message texts or names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from ffs_bot.db.sql import table_of
from ffs_bot.db.tables import AuditEventRow
from ffs_bot.db.uow import UnitOfWork

__all__ = ["record_event"]

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
