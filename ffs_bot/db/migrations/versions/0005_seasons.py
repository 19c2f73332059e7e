"""Family-Friendly Space seasons and the children registered for them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:02:04.406791
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "season",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("min_age_years", sa.Integer(), nullable=False),
        sa.Column("max_age_years", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.Column("registration_deadline", sa.Date(), nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False),
        sa.Column("funding", sa.String(length=16), nullable=False),
        sa.Column("registration_open", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "seats_taken <= capacity", name=op.f("ck_season_seats_within_capacity")
        ),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factory.id"],
            name=op.f("fk_season_factory_id_factory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_season")),
    )
    with op.batch_alter_table("season", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_season_factory_id"), ["factory_id"], unique=False)

    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["child.id"],
            name=op.f("fk_registration_child_id_child"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["person.id"],
            name=op.f("fk_registration_registered_by_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["season.id"],
            name=op.f("fk_registration_season_id_season"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration")),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_child_id"), ["child_id"], unique=False)
        batch_op.create_index("ix_registration_queue", ["season_id", "status", "id"], unique=False)
        batch_op.create_index(
            "uq_registration_live",
            ["season_id", "child_id"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_registration_live",
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )
        batch_op.drop_index("ix_registration_queue")
        batch_op.drop_index(batch_op.f("ix_registration_child_id"))

    op.drop_table("registration")
    with op.batch_alter_table("season", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_season_factory_id"))

    op.drop_table("season")
