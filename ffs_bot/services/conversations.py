"""Conversation state, kept in the database so any process can take the next message.

It is read with the person (`people.open_conversation`) and written here.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import ConversationRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import ConversationState

__all__ = ["RATE_WINDOW", "Pace", "count_message", "save_state"]

RATE_WINDOW = timedelta(minutes=1)


class Pace(Enum):
    """What the rate limit says about a message."""

    OK = "ok"
    # The first message over the limit in this window: the person is asked to slow down.
    SLOW_DOWN = "slow_down"
    # Any later one in the same window: not answered at all.
    DROP = "drop"


_SAVED = ("step", "data", "choices", "updated_at", "window_started_at", "window_count")


def count_message(state: ConversationState, now: datetime, limit: int | None) -> Pace:
    """Count a message in the state's one-minute window and say whether it is over `limit`.

    The count is saved with the state, in the statement every message runs anyway; the
    person's row is locked while their message runs (PostgreSQL), so replicas count right.
    A re-delivered message rolls back with its step and is not counted twice.
    """
    started = state.window_started_at
    if started is None or not started <= now < started + RATE_WINDOW:
        state.window_started_at, state.window_count = now, 0
    state.window_count += 1
    if limit is None or state.window_count <= limit:
        return Pace.OK
    return Pace.SLOW_DOWN if state.window_count == limit + 1 else Pace.DROP


@functools.cache
def _save(dialect: str) -> Any:
    """Insert or replace one identity's state: built once, the values come as parameters."""
    stmt = insert_for(dialect)(table_of(ConversationRow))
    return stmt.on_conflict_do_update(
        index_elements=["identity_id"],
        set_={name: stmt.excluded[name] for name in _SAVED},
    )


async def save_state(uow: UnitOfWork, identity_id: int, state: ConversationState) -> None:
    """Store the state in the caller's transaction, with the step's other changes."""
    await uow.session.execute(
        _save(uow.dialect),
        {
            "identity_id": identity_id,
            "step": state.step,
            "data": dict(state.data),
            "choices": list(state.choices),
            "updated_at": utcnow(),
            "window_started_at": state.window_started_at,
            "window_count": state.window_count,
        },
    )
