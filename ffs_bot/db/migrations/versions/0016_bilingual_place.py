"""How to get there in two languages: `place_en` beside `place` on seasons and workshops

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 01:00:00.000000

`place` keeps the Chinese (or the only) text and `place_en` the English, so each reader sees
their own language. Places written as "中文 / English" in one line are split the way the
coordinator's form splits them now (`Bilingual.split`); any other place stays whole.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ffs_bot.model import Bilingual

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("season", "workshop")


def _table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.Integer),
        sa.column("place", sa.String),
        sa.column("place_en", sa.String),
    )


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("place_en", sa.String(length=200), nullable=False, server_default="")
            )
    bind = op.get_bind()
    for name in TABLES:
        table = _table(name)
        rows = bind.execute(
            sa.select(table.c.id, table.c.place).where(table.c.place.like("% / %"))
        ).all()
        for row_id, place in rows:
            split = Bilingual.split(place)
            if split.en:
                bind.execute(
                    table.update()
                    .where(table.c.id == row_id)
                    .values(place=split.zh, place_en=split.en)
                )


def downgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        table = _table(name)
        # Back into one line as it was typed; the English alone where there is no Chinese.
        bind.execute(
            table.update()
            .where(table.c.place_en != "", table.c.place != "")
            .values(place=sa.func.substr(table.c.place + " / " + table.c.place_en, 1, 200))
        )
        bind.execute(
            table.update()
            .where(table.c.place_en != "", table.c.place == "")
            .values(place=table.c.place_en)
        )
        # Dropped in place (SQLite 3.35 and later can): a copied table would be dropped
        # whole, and with foreign keys on that deletes every booking and registration.
        with op.batch_alter_table(name, schema=None, recreate="never") as batch_op:
            batch_op.drop_column("place_en")
