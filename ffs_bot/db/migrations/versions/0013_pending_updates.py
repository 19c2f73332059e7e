"""Pending updates: a partial index on a chat's updates still to answer

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_inbound_update_pending",
        "inbound_update",
        ["channel", "chat_key", "id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_update_pending", table_name="inbound_update")
