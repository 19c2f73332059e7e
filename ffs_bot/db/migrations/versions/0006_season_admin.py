"""Coordinators run seasons: sponsors, place, offers, decisions, attendance

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 23:31:56.288276
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LIVE = "status != 'cancelled'"
LIVE = "status NOT IN ('cancelled', 'declined')"


def upgrade() -> None:
    op.create_table(
        "sponsor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsor")),
        sa.UniqueConstraint("name", name=op.f("uq_sponsor_name")),
    )
    op.create_table(
        "season_sponsor",
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["season.id"],
            name=op.f("fk_season_sponsor_season_id_season"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"],
            ["sponsor.id"],
            name=op.f("fk_season_sponsor_sponsor_id_sponsor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("season_id", "sponsor_id", name=op.f("pk_season_sponsor")),
    )
    with op.batch_alter_table("season_sponsor", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_season_sponsor_sponsor_id"), ["sponsor_id"], unique=False
        )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by", sa.Integer(), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checked_in_by"],
            ["person.id"],
            name=op.f("fk_attendance_checked_in_by_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["checked_out_by"],
            ["person.id"],
            name=op.f("fk_attendance_checked_out_by_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_attendance_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("registration_id", "day", name=op.f("uq_attendance_registration_id")),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_day"), ["day"], unique=False)

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reason", sa.String(length=200), nullable=False, server_default="")
        )
        # Declined registrations are history too, like cancelled ones.
        batch_op.drop_index(
            "uq_registration_live",
            sqlite_where=sa.text(OLD_LIVE),
            postgresql_where=sa.text(OLD_LIVE),
        )
        batch_op.create_index(
            "uq_registration_live",
            ["season_id", "child_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.add_column(sa.Column("decided_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_registration_offer", ["status", "offer_expires_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_registration_decided_by_person"),
            "person",
            ["decided_by"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("season", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("place", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE season SET updated_at = created_at")
    with op.batch_alter_table("season", schema=None) as batch_op:
        batch_op.alter_column("updated_at", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("season", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("place")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_registration_decided_by_person"), type_="foreignkey"
        )
        batch_op.drop_index("ix_registration_offer")
        batch_op.drop_index(
            "uq_registration_live", sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE)
        )
        batch_op.create_index(
            "uq_registration_live",
            ["season_id", "child_id"],
            unique=True,
            sqlite_where=sa.text(OLD_LIVE),
            postgresql_where=sa.text(OLD_LIVE),
        )
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("reason")
        batch_op.drop_column("offer_expires_at")

    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_day"))

    op.drop_table("attendance")
    with op.batch_alter_table("season_sponsor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_season_sponsor_sponsor_id"))

    op.drop_table("season_sponsor")
    op.drop_table("sponsor")
