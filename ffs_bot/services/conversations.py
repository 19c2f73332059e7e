"""Conversation state, kept in the database so any process can take the next message."""

from __future__ import annotations

from ffs_bot.db.tables import ConversationRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.model import ConversationState

__all__ = ["load_state", "save_state"]


async def load_state(uow: UnitOfWork, identity_id: int) -> ConversationState:
    """Return where this identity is in its conversation (empty for a first contact)."""
    row = await uow.session.get(ConversationRow, identity_id)
    if row is None:
        return ConversationState()
    return ConversationState(step=row.step, data=dict(row.data), choices=list(row.choices))


async def save_state(uow: UnitOfWork, identity_id: int, state: ConversationState) -> None:
    """Store the state in the caller's transaction, with the step's other changes."""
    row = await uow.session.get(ConversationRow, identity_id)
    if row is None:
        row = ConversationRow(identity_id=identity_id)
        uow.session.add(row)
    row.step = state.step
    # New objects, so SQLAlchemy sees the JSON columns changed.
    row.data = dict(state.data)
    row.choices = list(state.choices)
