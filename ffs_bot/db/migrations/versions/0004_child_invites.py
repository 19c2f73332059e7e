"""One-time codes with which a second guardian joins a child

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:53:19.891685
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "child_invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["child.id"],
            name=op.f("fk_child_invite_child_id_child"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["person.id"],
            name=op.f("fk_child_invite_created_by_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["person.id"],
            name=op.f("fk_child_invite_used_by_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_invite")),
        sa.UniqueConstraint("code", name=op.f("uq_child_invite_code")),
    )
    with op.batch_alter_table("child_invite", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_child_invite_child_id"), ["child_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("child_invite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_invite_child_id"))

    op.drop_table("child_invite")
