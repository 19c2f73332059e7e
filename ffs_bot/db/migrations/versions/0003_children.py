"""Children, their guardians, and consents about a child

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:42:04.094221
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "child",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("birth_month", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(length=8), nullable=True),
        sa.Column("health_notes", sa.String(length=400), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child")),
    )
    op.create_table(
        "guardian",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_guardian_child_id_child"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_guardian_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("child_id", "person_id", name=op.f("pk_guardian")),
    )
    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guardian_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("child_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_consent_child_id"), ["child_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_child_id_child"),
            "child",
            ["child_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_consent_child_id_child"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_consent_child_id"))
        batch_op.drop_column("child_id")

    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardian_person_id"))

    op.drop_table("guardian")
    op.drop_table("child")
