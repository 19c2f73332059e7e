"""Parenting tips: the library, subscriptions and deliveries

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 00:18:02.755944
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tip",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("min_months", sa.Integer(), nullable=True),
        sa.Column("max_months", sa.Integer(), nullable=True),
        sa.Column("text_zh", sa.String(length=1000), nullable=False),
        sa.Column("text_en", sa.String(length=1000), nullable=False),
        sa.Column("follow_up_zh", sa.String(length=500), nullable=False),
        sa.Column("follow_up_en", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip")),
    )
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_topic"), ["topic"], unique=False)

    op.create_table(
        "tip_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_tip_delivery_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_tip_delivery_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_delivery")),
    )
    with op.batch_alter_table("tip_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_tip_delivery_person", ["person_id", "tip_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tip_delivery_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_subscription",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_tip_subscription_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_tip_subscription")),
    )
    with op.batch_alter_table("tip_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_tip_subscription_due", ["active", "next_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tip_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_tip_subscription_due")

    op.drop_table("tip_subscription")
    with op.batch_alter_table("tip_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_delivery_tip_id"))
        batch_op.drop_index("ix_tip_delivery_person")

    op.drop_table("tip_delivery")
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_topic"))

    op.drop_table("tip")
