"""How to get there in two languages: `place_en` beside `place` on seasons and workshops

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 01:00:00.000000

`place` keeps the Chinese (or the only) text and `place_en` the English, so each reader sees
their own language. Places written as "中文 / English" in one line are split the way the
coordinator's form splits them (`Bilingual.split`, frozen here as it was); any other place
stays whole.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("season", "workshop")
# A copy of the rule as it was when this ran: a migration must not change with the code.
CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60]")


def _split(text: str) -> tuple[str, str]:
    """ "中文 / English" as (Chinese, English); anything else whole, with no English."""
    text = " ".join(text.split())
    first, slash, last = text.rpartition(" / ")
    if slash and CJK.search(first) and not CJK.search(last) and last.strip():
        return first.strip(), last.strip()
    return text, ""


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
            chinese, english = _split(place)
            if english:
                bind.execute(
                    table.update()
                    .where(table.c.id == row_id)
                    .values(place=chinese, place_en=english)
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
