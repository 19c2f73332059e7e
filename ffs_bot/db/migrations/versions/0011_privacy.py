"""Privacy: the notice version each person agreed to, and erased people and children

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("person", sa.Column("privacy_version", sa.String(length=16), nullable=True))
    op.add_column("person", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("child", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # Who agreed before this column existed: the version of their latest standing yes.
    op.execute(
        """
        UPDATE person SET privacy_version = (
            SELECT consent.notice_version FROM consent
            WHERE consent.person_id = person.id AND consent.kind = 'privacy'
              AND consent.granted AND consent.withdrawn_at IS NULL
            ORDER BY consent.id DESC LIMIT 1
        )
        """
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later): a batch copy would drop and re-create
    # `child`, and dropping it would cascade to registrations and guardians.
    op.drop_column("child", "erased_at")
    op.drop_column("person", "erased_at")
    op.drop_column("person", "privacy_version")
