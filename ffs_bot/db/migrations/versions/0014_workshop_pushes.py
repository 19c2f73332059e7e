"""Workshop pushes: a workshop's reminders and feedback question are one row each, not a booking's

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 08:00:00.000000

A scheduled push of a kind "workshop.*" was about one booking; now it is about the workshop,
and the worker sends it to every seat held when it is due. The pushes still to go become the
workshop's (one per kind, the earliest due), the rest are gone: what was sent stays in the
outbox. A workshop with none left gets its own at its next booking.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Untyped times: each engine's stored values go back as they came.
PUSH = sa.table(
    "scheduled_push",
    sa.column("kind", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("due_at"),
    sa.column("created_at"),
    sa.column("done_at"),
)
BOOKING = sa.table(
    "booking",
    sa.column("id", sa.Integer),
    sa.column("workshop_id", sa.Integer),
    sa.column("status", sa.String),
)
WORKSHOP_PUSH = PUSH.c.kind.like("workshop.%")
PENDING = PUSH.c.done_at.is_(None)


def _replace(pending: sa.Select[Any]) -> None:
    rows = op.get_bind().execute(pending).all()
    op.execute(PUSH.delete().where(WORKSHOP_PUSH))
    if rows:
        op.bulk_insert(
            PUSH,
            [
                {"kind": kind, "subject_id": subject, "due_at": due, "created_at": created}
                for kind, subject, due, created in rows
            ],
        )


def upgrade() -> None:
    _replace(
        sa.select(
            PUSH.c.kind,
            BOOKING.c.workshop_id,
            sa.func.min(PUSH.c.due_at),
            sa.func.min(PUSH.c.created_at),
        )
        .join(BOOKING, BOOKING.c.id == PUSH.c.subject_id)
        .where(WORKSHOP_PUSH, PENDING)
        .group_by(PUSH.c.kind, BOOKING.c.workshop_id)
    )


def downgrade() -> None:
    # Back to a row per seat held, for each of the workshop's pushes still to go.
    _replace(
        sa.select(PUSH.c.kind, BOOKING.c.id, PUSH.c.due_at, PUSH.c.created_at)
        .join(BOOKING, BOOKING.c.workshop_id == PUSH.c.subject_id)
        .where(WORKSHOP_PUSH, PENDING, BOOKING.c.status == "confirmed")
    )
