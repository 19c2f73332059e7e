"""Conversation state, kept in the database so any process can take the next message.

It is read with the person (`people.open_conversation`) and written here.
"""

from __future__ import annotations

import functools
from typing import Any

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import ConversationRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import ConversationState

__all__ = ["save_state"]


@functools.cache
def _save(dialect: str) -> Any:
    """Insert or replace one identity's state: built once, the values come as parameters."""
    stmt = insert_for(dialect)(table_of(ConversationRow))
    return stmt.on_conflict_do_update(
        index_elements=["identity_id"],
        set_={name: stmt.excluded[name] for name in ("step", "data", "choices", "updated_at")},
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
        },
    )
