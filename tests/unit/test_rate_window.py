"""The time a slowed-down person is told is one at which their messages are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ffs_bot.model import ConversationState
from ffs_bot.services.conversations import Pace, count_message, window_end

LIMIT = 3


@pytest.mark.parametrize(
    ("started", "told"),
    [
        # The window ends in the middle of a minute: the next whole minute is told.
        (datetime(2026, 7, 14, 10, 4, 30, tzinfo=UTC), datetime(2026, 7, 14, 10, 6, tzinfo=UTC)),
        (
            datetime(2026, 7, 14, 10, 4, 0, 1, tzinfo=UTC),
            datetime(2026, 7, 14, 10, 6, tzinfo=UTC),
        ),
        # On a whole minute it is that minute; over midnight, the next day's.
        (datetime(2026, 7, 14, 10, 4, tzinfo=UTC), datetime(2026, 7, 14, 10, 5, tzinfo=UTC)),
        (datetime(2026, 7, 14, 23, 59, 1, tzinfo=UTC), datetime(2026, 7, 15, 0, 1, tzinfo=UTC)),
    ],
)
def test_the_time_told_is_a_whole_minute_when_messages_are_read(
    started: datetime, told: datetime
) -> None:
    state = ConversationState()
    for _ in range(LIMIT + 1):
        count_message(state, started, LIMIT)
    assert state.window_started_at == started
    assert window_end(state) == told
    # Anything sent in the minute told is read (a new window), never dropped unsaid.
    for second in (0, 30, 59):
        later = ConversationState(window_started_at=started, window_count=LIMIT + 1)
        moment = told + timedelta(seconds=second)
        assert count_message(later, moment, LIMIT) is Pace.OK
