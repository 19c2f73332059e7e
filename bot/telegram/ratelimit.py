"""Telegram's flood limits, kept for every sending call through PTB's rate-limiter hook."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

__all__ = ["SENDING_ENDPOINTS", "FloodLimiter", "retry_seconds"]

log = logging.getLogger(__name__)

# Calls that put a message in a chat count against Telegram's limits; answering a button
# press or polling does not.
SENDING_ENDPOINTS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
SAFETY_MARGIN = 0.02
# The span in which at most `overall` sends may start, with room for the network's jitter.
WINDOW = 1.0 + SAFETY_MARGIN
# Forget a chat's last send time once it no longer constrains anything.
_PRUNE_AT = 10_000
# The margin absorbs this much lateness of a send; only more is counted.
TOLERATED_LATENESS = SAFETY_MARGIN / 2
# A send slower than the fastest by more than this is taken to have reached Telegram this
# late at most (a hung request must not hold every push for its whole timeout).
MAX_LATENESS = 1.0
# How often to look again while the send a slot depends on is still under way.
_RECHECK = 0.02


@dataclass(slots=True)
class _Send:
    """A push that started: when, and how long its call took once it has answered."""

    start: float
    took: float | None = None


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait, whichever type PTB gives it in."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FloodLimiter(BaseRateLimiter[bool]):
    """Pushes: at most `overall` a second, one per `per_chat` seconds in a chat. All: 429s.

    A push (a call made with `rate_limit_args=True`) reserves its time slot before it
    waits, so concurrent callers are spaced without a lock; a push whose call took longer
    than the fastest counts as reaching Telegram that much later. Direct answers to a person's
    message are not spaced: a press gets its keyboard removed and its answer at once. After
    a 429 every sending call waits `retry_after`, then the call is retried up to
    `max_retries` times before the error is raised to the caller.
    """

    __slots__ = (
        "_chat_next",
        "_clock",
        "_fastest",
        "_interval",
        "_max_retries",
        "_next",
        "_pause_until",
        "_per_chat",
        "_sleep",
        "_started",
        "retry_afters",
    )

    def __init__(
        self,
        overall: float = 30.0,
        per_chat: float = 1.0,
        max_retries: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # Requests reach Telegram a few milliseconds off their slots; without a margin a
        # 31st send lands inside a sliding second now and then, and each 429 stalls all
        # sends for a whole second.
        self._interval = (1.0 + SAFETY_MARGIN) / overall
        self._per_chat = per_chat
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        # Telegram counts a bot's sends in any second, whichever process made them. A process
        # started just after another stopped (a restart, a deploy) cannot know what that one
        # sent in its last second, so its first push waits for that second to pass.
        self._next = clock() + 1.0
        self._pause_until = 0.0
        self._chat_next: dict[str, float] = {}
        self._started: deque[_Send] = deque(maxlen=int(overall))
        self._fastest = math.inf  # the quickest call so far: the latency every send has
        self.retry_afters = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _reserve(self, chat: str | None) -> float:
        """Take the next free slot for `chat`; return when it starts."""
        now = self._clock()
        start = max(now, self._next, self._pause_until)
        if chat is not None:
            start = max(start, self._chat_next.get(chat, 0.0))
            if len(self._chat_next) > _PRUNE_AT:
                self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
            self._chat_next[chat] = start + self._per_chat * (1.0 + SAFETY_MARGIN)
        self._next = start + self._interval
        return start

    def _arrived_by(self, send: _Send, now: float) -> float:
        """The latest a started send can have reached Telegram, less the usual latency.

        A send that took longer than the fastest one may have been held up on its way (the
        process paused, the network slow), reaching Telegram closer to the sends after it
        than their slots say; beyond what the margin absorbs, it counts as that much later.
        One still under way counts as late as it has been so far.
        """
        took = send.took if send.took is not None else now - send.start
        fastest = self._fastest if self._fastest < math.inf else 0.0
        late = took - fastest - TOLERATED_LATENESS
        return send.start + min(max(late, 0.0), MAX_LATENESS)

    async def wait_for_slot(self, chat: str | None) -> _Send:
        """Wait until a send to `chat` keeps within the limits (and any 429 pause is over)."""
        start = self._reserve(chat)
        delay = start - self._clock()
        if delay > 0:
            await self._sleep(delay)
        # Slots are kept in theory; the event loop may still wake callers late and bunch
        # them up, and a send may be held up after it started. So also count the sends that
        # started (or, held up, arrived) in the last second, and a 429 that came meanwhile.
        # No await between this check and the append.
        while True:
            now = self._clock()
            wait = self._pause_until - now
            if len(self._started) == self._started.maxlen:
                oldest = self._started[0]
                wait = max(wait, self._arrived_by(oldest, now) + WINDOW - now)
                if oldest.took is None and wait > 0:
                    wait = min(wait, _RECHECK)  # it may answer soon and count as on time
            if wait <= 0:
                break
            await self._sleep(wait)
        send = _Send(self._clock())
        self._started.append(send)
        return send

    def _answered(self, send: _Send) -> None:
        send.took = self._clock() - send.start
        self._fastest = min(self._fastest, send.took)

    async def wait_for_pause(self) -> None:
        """Wait out a 429 pause, if one is on."""
        while (delay := self._pause_until - self._clock()) > 0:
            await self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every send for `seconds`, as Telegram asked."""
        self.retry_afters += 1
        self._pause_until = max(self._pause_until, self._clock() + seconds)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: bool | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Call the Bot API within the limits, retrying after a 429."""
        sending = endpoint in SENDING_ENDPOINTS
        push = sending and bool(rate_limit_args)
        chat = str(data["chat_id"]) if push and data.get("chat_id") is not None else None
        for attempt in range(self._max_retries + 1):
            send = None
            if push:
                send = await self.wait_for_slot(chat)
            elif sending:
                await self.wait_for_pause()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                log.warning("Telegram asked to wait %.1f s (%s)", seconds, endpoint)
                self.pause(seconds)
                if attempt == self._max_retries:
                    raise
            finally:
                if send is not None:
                    self._answered(send)
        raise AssertionError("unreachable")
