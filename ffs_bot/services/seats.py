"""Seats of a season or a workshop: taken and given back by one conditional UPDATE each.

Never "count, then insert": `UPDATE ... SET seats_taken = seats_taken + 1 WHERE id = ? AND
seats_taken < capacity` either takes a seat or does not, whatever runs at the same time, and
a check constraint backs it up.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import CursorResult, select, update

from ffs_bot.db.tables import SeasonRow, WorkshopRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import NotFound

__all__ = ["lock", "release_seat", "take_seat"]

Seated = TypeVar("Seated", SeasonRow, WorkshopRow)


async def lock(uow: UnitOfWork, table: type[Seated], row_id: int) -> Seated:
    """Read a season or workshop to change its seats or queue.

    Seat changes for one row go one at a time (SQLite's write lock does the same on its own),
    so a queue's order is the order of commits and each place we tell is exact.

    Raises:
        NotFound: no such row.
    """
    query = select(table).where(table.id == row_id)
    if uow.dialect == "postgresql":
        query = query.with_for_update()
    row = await uow.session.scalar(query)
    if row is None:
        raise NotFound(f"{table.__tablename__} {row_id}")
    return row


async def take_seat(uow: UnitOfWork, table: type[Seated], row_id: int) -> bool:
    """Take a seat if one is free; return whether it was taken."""
    taken = await uow.session.execute(
        update(table)
        .where(table.id == row_id, table.seats_taken < table.capacity)
        .values(seats_taken=table.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(taken, CursorResult)
    return taken.rowcount == 1


async def release_seat(uow: UnitOfWork, table: type[Seated], row_id: int) -> None:
    """Give a seat back."""
    await uow.session.execute(
        update(table)
        .where(table.id == row_id, table.seats_taken > 0)
        .values(seats_taken=table.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )
