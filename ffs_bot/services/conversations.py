"""Conversation state, kept in the database so any process can take the next message.

It is read with the person (`people.open_conversation`) and written here.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import CursorResult, bindparam

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import ConversationRow, ProcessedInboundRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.messages import Reply, replies_to_json
from ffs_bot.model import ConversationState
from ffs_bot.services.inbound import record_answer

__all__ = [
    "RATE_WINDOW",
    "Pace",
    "count_message",
    "save_state",
    "save_state_and_answer",
    "window_end",
]

RATE_WINDOW = timedelta(minutes=1)


class Pace(Enum):
    """What the rate limit says about a message."""

    OK = "ok"
    # The first message over the limit in this window: the person is asked to slow down.
    SLOW_DOWN = "slow_down"
    # Any later one in the same window: not answered (the first said until when).
    DROP = "drop"


_SAVED = ("step", "data", "choices", "updated_at", "window_started_at", "window_count")
_STATE = ("identity_id", *_SAVED)
_ANSWER = ("channel", "external_id", "replies", "created_at")


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


def window_end(state: ConversationState) -> datetime:
    """The first whole minute at which the person's messages are read again."""
    end = (state.window_started_at or utcnow()) + RATE_WINDOW
    # A person is told the minute (18:06), not the second: rounded down, a message sent in
    # the minute they were told would still fall in the window and go unanswered, unsaid.
    whole = end.replace(second=0, microsecond=0)
    return whole if whole == end else whole + timedelta(minutes=1)


@functools.cache
def _save(dialect: str) -> Any:
    """Insert or replace one identity's state: built once, the values come as parameters."""
    stmt = insert_for(dialect)(table_of(ConversationRow))
    return stmt.on_conflict_do_update(
        index_elements=["identity_id"],
        set_={name: stmt.excluded[name] for name in _SAVED},
    )


def _state_values(identity_id: int, state: ConversationState) -> dict[str, Any]:
    return {
        "identity_id": identity_id,
        "step": state.step,
        "data": dict(state.data),
        "choices": list(state.choices),
        "updated_at": utcnow(),
        "window_started_at": state.window_started_at,
        "window_count": state.window_count,
    }


async def save_state(uow: UnitOfWork, identity_id: int, state: ConversationState) -> None:
    """Store the state in the caller's transaction, with the step's other changes."""
    await uow.session.execute(_save(uow.dialect), _state_values(identity_id, state))


@functools.cache
def _save_with_answer() -> Any:
    """PostgreSQL: the state saved and the message's answer recorded in one statement.

    The state's upsert runs as a data-modifying CTE, which PostgreSQL always carries out
    whether or not the outer insert uses its rows; the outer insert says by its RETURNING
    whether the message was new. Parameters are named apart from the columns, since the
    CTE's values cannot take them from the execute's keys as a lone insert does.
    """
    conversation = table_of(ConversationRow)
    state = insert_for("postgresql")(conversation).values(
        {name: bindparam(f"state_{name}", type_=conversation.c[name].type) for name in _STATE}
    )
    saved = state.on_conflict_do_update(
        index_elements=["identity_id"],
        set_={name: state.excluded[name] for name in _SAVED},
    ).cte("saved_state")
    processed = table_of(ProcessedInboundRow)
    return (
        insert_for("postgresql")(processed)
        .values({name: bindparam(name, type_=processed.c[name].type) for name in _ANSWER})
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(processed.c.id)
        .add_cte(saved)
    )


async def save_state_and_answer(
    uow: UnitOfWork,
    identity_id: int,
    state: ConversationState,
    channel: str,
    external_id: str,
    replies: list[Reply],
) -> bool:
    """Store the state and record the message's answer, as `save_state` and `record_answer`.

    Returns False when the message was handled already, as `record_answer` does. Every
    message ends with these two writes; on PostgreSQL they are one round trip.
    """
    if uow.dialect != "postgresql":
        await save_state(uow, identity_id, state)
        return await record_answer(uow, channel, external_id, replies)
    values = {f"state_{k}": v for k, v in _state_values(identity_id, state).items()}
    values.update(
        channel=channel,
        external_id=external_id,
        replies=replies_to_json(replies),
        created_at=utcnow(),
    )
    result = await uow.session.execute(_save_with_answer(), values)
    assert isinstance(result, CursorResult)
    return result.first() is not None
