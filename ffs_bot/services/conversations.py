"""Conversation state, kept in the database so any process can take the next message.

It is read with the person (`people.open_conversation`) and written here.
"""

from __future__ import annotations

from ffs_bot.db.sql import upsert
from ffs_bot.db.tables import ConversationRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import ConversationState

__all__ = ["save_state"]


async def save_state(uow: UnitOfWork, identity_id: int, state: ConversationState) -> None:
    """Store the state in the caller's transaction, with the step's other changes."""
    await upsert(
        uow,
        ConversationRow,
        {
            "identity_id": identity_id,
            "step": state.step,
            "data": dict(state.data),
            "choices": list(state.choices),
            "updated_at": utcnow(),
        },
        ["identity_id"],
    )
