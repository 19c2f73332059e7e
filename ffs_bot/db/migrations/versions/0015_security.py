"""Security: signed requests bound to their first body, invite guesses counted

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:00:00.000000

`signed_request` holds each WeChat (timestamp, nonce) pair with a digest of the body it first
came with, so a captured URL cannot carry a second body, on any replica. `invite_attempt`
counts a person's wrong invite codes; `child_invite.lookup` (the code's first letters) finds
an invite and `failures` counts wrong codes typed against it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVITE = sa.table("child_invite", sa.column("code", sa.String), sa.column("lookup", sa.String))


def upgrade() -> None:
    op.create_table(
        "signed_request",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "stamp", "nonce", name=op.f("pk_signed_request")),
    )
    with op.batch_alter_table("signed_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_request_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "invite_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_invite_attempt_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite_attempt")),
    )
    with op.batch_alter_table("invite_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invite_attempt_person", ["person_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invite_attempt_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("child_invite", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("failures", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(INVITE.update().values(lookup=sa.func.substr(INVITE.c.code, 1, 4)))
    with op.batch_alter_table("child_invite", schema=None) as batch_op:
        batch_op.alter_column("lookup", existing_type=sa.String(length=8), nullable=False)
        batch_op.create_index(batch_op.f("ix_child_invite_lookup"), ["lookup"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("child_invite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_invite_lookup"))
        batch_op.drop_column("failures")
        batch_op.drop_column("lookup")
    with op.batch_alter_table("invite_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_attempt_created_at"))
        batch_op.drop_index("ix_invite_attempt_person")
    op.drop_table("invite_attempt")
    with op.batch_alter_table("signed_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_request_created_at"))
    op.drop_table("signed_request")
