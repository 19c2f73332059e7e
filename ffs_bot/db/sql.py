"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    DateTime,
    Executable,
    Row,
    Table,
    literal,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute

from ffs_bot.db.uow import UnitOfWork

__all__ = [
    "IN_LIST_LIMIT",
    "in_lists",
    "insert_for",
    "insert_ignore",
    "plain_rows",
    "table_of",
    "upsert",
    "utc_read",
]

T = TypeVar("T")
# Values in one statement's IN list: well within SQLite's limit on parameters.
IN_LIST_LIMIT = 1000


def table_of(row_class: type[DeclarativeBase]) -> Table:
    """The Core table behind a mapped class, for statements that load no ORM rows."""
    table = row_class.__table__
    assert isinstance(table, Table)
    return table


async def plain_rows(uow: UnitOfWork, query: Executable) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows of a select of columns, read on the session's connection past the ORM.

    For bulk reads (an export's hundred thousand rows): the session's own `execute` passes
    every row through the ORM's loading, a third of the reading time, even with no ORM rows.
    What the session has not yet flushed is flushed first, as its own `execute` would.
    """
    await uow.session.flush()
    connection = await uow.session.connection()
    return (await connection.execute(query)).all()


def utc_read(
    column: ColumnElement[Any] | QueryableAttribute[Any], dialect: str
) -> ColumnElement[datetime]:
    """A `UTCDateTime` column read as aware UTC datetimes in compiled code, for bulk reads.

    The column's own type makes each value two Python calls; over a whole programme's rows
    that was a fifth of an export's time. SQLite keeps UTC as text with no zone: with
    "+00:00" appended, SQLAlchemy's compiled `fromisoformat` makes it aware (NULL stays
    NULL). PostgreSQL's driver returns aware datetimes already.
    """
    if dialect == "sqlite":
        return type_coerce(column.op("||")(literal("+00:00")), DateTime(timezone=True))
    return type_coerce(column, DateTime(timezone=True))


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
