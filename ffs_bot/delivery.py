"""The port through which the outbox worker pushes messages on a channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ffs_bot.messages import Reply

__all__ = ["Delivery", "Outcome", "Sender"]


class Outcome(StrEnum):
    """What became of one attempt to push a message."""

    SENT = "sent"
    RETRY = "retry"  # try again later: a network error, or the channel said to wait
    BLOCKED = "blocked"  # the person blocked us: stop pushing to them
    FAILED = "failed"  # will never work (no such chat, message refused)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of a push, with how long the channel asked us to wait, if it did."""

    outcome: Outcome
    retry_after: float | None = None
    error: str = ""


class Sender(Protocol):
    """Pushes a message to one recipient on one channel."""

    async def send(self, recipient: str, replies: list[Reply], *, kind: str = "") -> Delivery:
        """Send `replies` to `recipient` and say how it went; never raise for channel errors.

        `kind` says what the push is (`booking`, `tip`, ...), for channels that pick a form
        of message by it.
        """
        ...
