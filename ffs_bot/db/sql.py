"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

from ffs_bot.db.uow import UnitOfWork

__all__ = ["IN_LIST_LIMIT", "in_lists", "insert_for", "insert_ignore", "table_of", "upsert"]

T = TypeVar("T")
# Values in one statement's IN list: well within SQLite's limit on parameters.
IN_LIST_LIMIT = 1000


def table_of(row_class: type[DeclarativeBase]) -> Table:
    """The Core table behind a mapped class, for statements that load no ORM rows."""
    table = row_class.__table__
    assert isinstance(table, Table)
    return table


def in_lists(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `IN_LIST_LIMIT`, one statement's IN list each."""
    for start in range(0, len(values), IN_LIST_LIMIT):
        yield values[start : start + IN_LIST_LIMIT]


def insert_for(dialect: str) -> Any:
    """The dialect's `insert`, which knows `ON CONFLICT`."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def insert_ignore(
    uow: UnitOfWork, table: type[DeclarativeBase], values: dict[str, Any], keys: list[str]
) -> bool:
    """Insert a row unless one with the same `keys` exists; return whether it was inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then inserts nothing, so exactly one caller wins.
    """
    stmt = _insert(uow)(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    result = await uow.session.execute(stmt)
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def upsert(
    uow: UnitOfWork,
    table: type[DeclarativeBase],
    values: dict[str, Any],
    keys: list[str],
    update: list[str] | None = None,
    *,
    where: Any = None,
) -> None:
    """Insert a row, or update the existing one with the same `keys`, in one statement.

    `update` names the columns to change on a clash (all but the keys by default); with
    `where`, an existing row that does not match it is left alone.
    """
    stmt = _insert(uow)(table).values(**values)
    names = update if update is not None else [name for name in values if name not in keys]
    changes = {name: stmt.excluded[name] for name in names}
    await uow.session.execute(
        stmt.on_conflict_do_update(index_elements=keys, set_=changes, where=where)
    )


def _insert(uow: UnitOfWork) -> Any:
    return insert_for(uow.dialect)
