"""Safety: safeguarding alerts, a per-person message window, and silent accounts

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "safeguarding_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factory.id"],
            name=op.f("fk_safeguarding_alert_factory_id_factory"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_safeguarding_alert_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_alert")),
    )
    with op.batch_alter_table("safeguarding_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safeguarding_alert_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_safeguarding_alert_factory_id"), ["factory_id"], unique=False
        )
        batch_op.create_index(
            "ix_safeguarding_alert_person", ["person_id", "kind", "at"], unique=False
        )

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("window_count", sa.Integer(), server_default="0", nullable=False)
        )

    # People who exist only because a staff role was given to their account never wrote to
    # us, so they have no conversation: nothing may be pushed to them until they write.
    op.execute(
        "UPDATE person SET status = 'silent' WHERE status = 'active'"
        " AND EXISTS (SELECT 1 FROM identity WHERE identity.person_id = person.id)"
        " AND NOT EXISTS (SELECT 1 FROM identity JOIN conversation"
        " ON conversation.identity_id = identity.id WHERE identity.person_id = person.id)"
    )


def downgrade() -> None:

    op.execute("UPDATE person SET status = 'active' WHERE status = 'silent'")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("window_count")
        batch_op.drop_column("window_started_at")

    with op.batch_alter_table("safeguarding_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_safeguarding_alert_person")
        batch_op.drop_index(batch_op.f("ix_safeguarding_alert_factory_id"))
        batch_op.drop_index(batch_op.f("ix_safeguarding_alert_at"))

    op.drop_table("safeguarding_alert")
