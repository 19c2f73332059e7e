"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

from ffs_bot.db.uow import UnitOfWork

__all__ = ["insert_ignore"]


async def insert_ignore(
    uow: UnitOfWork, table: type[DeclarativeBase], values: dict[str, Any], keys: list[str]
) -> bool:
    """Insert a row unless one with the same `keys` exists; return whether it was inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then inserts nothing, so exactly one caller wins.
    """
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    result = await uow.session.execute(stmt)
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)
