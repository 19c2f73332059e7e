"""What workers are told about their workshop bookings: offers, reminders, feedback.

Rendered in each person's language and queued in the outbox under keys that name the
booking and the event, so telling the same thing twice queues it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ffs_bot.db.tables import BookingRow, FactoryRow, WorkshopRow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.i18n import Translator, Translators
from ffs_bot.messages import Choice, Reply
from ffs_bot.model import Bilingual
from ffs_bot.notices import tell_people

__all__ = ["WorkshopNotifier", "WorkshopRules", "feedback_payload", "workshop_offer_payload"]


@dataclass(frozen=True, slots=True)
class WorkshopRules:
    """How long an offer is held, and when reminders go out before the start."""

    offer_window: timedelta = timedelta(hours=12)
    offer_closes_before_start: timedelta = timedelta(hours=2)
    reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))


def workshop_offer_payload(answer: str, booking_id: int) -> str:
    """The button payload that takes ("yes") or passes on ("no") an offered seat."""
    return f"wso:{answer}:{booking_id}"


def feedback_payload(booking_id: int, rating: int) -> str:
    """The button payload that rates a workshop 1 to 5."""
    return f"wsr:{booking_id}:{rating}"


@dataclass(frozen=True, slots=True)
class _Facts:
    booking_id: int
    person_id: int
    code: str
    topic: str
    starts_at: datetime
    ends_at: datetime
    place: str
    place_en: str
    timezone: str


def when(
    t: Translator,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    *,
    with_year: bool = False,
) -> str:
    """A workshop's day and hours, e.g. 7月14日周一 09:00–12:00 or Mon, Jul 14 09:00–12:00.

    `with_year` adds the year (2027年7月14日周三 09:00–12:00), to confirm a time just typed.
    """
    day = t.day(starts_at.astimezone(ZoneInfo(timezone)).date(), with_year=with_year)
    return f"{day} {t.time_range(starts_at, ends_at, timezone)}"


class WorkshopNotifier:
    """Queues notices about bookings; carries the rules for offers and reminders."""

    def __init__(self, translators: Translators, rules: WorkshopRules | None = None) -> None:
        self._translators = translators
        self.rules = rules or WorkshopRules()

    async def offered(self, uow: UnitOfWork, booking_id: int, until: datetime) -> int:
        """A freed seat is held for the person until `until`."""

        def render(t: Translator, f: _Facts) -> Reply:
            return Reply(
                t._(
                    "A seat has opened at the workshop “{topic}”, {when}. Do you want it? "
                    "Please answer by {time}.",
                    topic=f.topic,
                    when=when(t, f.starts_at, f.ends_at, f.timezone),
                    time=t.weekday_moment(until, f.timezone),
                ),
                (
                    Choice(t._("Yes, I will come"), workshop_offer_payload("yes", booking_id)),
                    Choice(t._("No, pass it on"), workshop_offer_payload("no", booking_id)),
                ),
            )

        return await self._tell(uow, booking_id, "offer", render)

    async def offer_expired(self, uow: UnitOfWork, booking_id: int) -> int:
        """Nobody answered the offer in time; the seat went to the next person."""

        def render(t: Translator, f: _Facts) -> Reply:
            return Reply(
                t._(
                    "We had no answer in time, so the seat at “{topic}” went to the next person.",
                    topic=f.topic,
                )
            )

        return await self._tell(uow, booking_id, "offer_expired", render)

    async def cancelled(self, uow: UnitOfWork, booking_id: int) -> int:
        """The workshop was cancelled."""

        def render(t: Translator, f: _Facts) -> Reply:
            return Reply(
                t._(
                    "Sorry, the workshop “{topic}” on {when} is cancelled.",
                    topic=f.topic,
                    when=when(t, f.starts_at, f.ends_at, f.timezone),
                )
            )

        return await self._tell(uow, booking_id, "cancelled", render)

    async def moved(self, uow: UnitOfWork, booking_id: int, stamp: int) -> int:
        """The workshop's time changed (`stamp` tells one change from the next)."""

        def render(t: Translator, f: _Facts) -> Reply:
            return Reply(
                t._(
                    "The workshop “{topic}” has a new time: {when}. If you cannot come, "
                    "please cancel so someone else can have your seat.",
                    topic=f.topic,
                    when=when(t, f.starts_at, f.ends_at, f.timezone),
                )
            )

        return await self._tell(uow, booking_id, f"moved:{stamp}", render)

    async def reminder(self, uow: UnitOfWork, booking_id: int, kind: str) -> int:
        """The workshop is soon: when, where, and the booking code to check in with."""

        def render(t: Translator, f: _Facts) -> Reply:
            text = t._(
                "Reminder: the workshop “{topic}” is on {when}.",
                topic=f.topic,
                when=when(t, f.starts_at, f.ends_at, f.timezone),
            )
            # The reader's language only, the other when theirs was not written.
            if place := Bilingual(f.place, f.place_en).pick(t.language):
                text += "\n" + t._("Place: {place}", place=place)
            text += "\n" + t._("Your booking code: {code}", code=f.code)
            return Reply(text)

        return await self._tell(uow, booking_id, kind, render)

    async def feedback(self, uow: UnitOfWork, booking_id: int) -> int:
        """After a workshop the person attended: one question, answered with 1 to 5."""

        def render(t: Translator, f: _Facts) -> Reply:
            return Reply(
                t._(
                    "Thank you for coming to “{topic}”. How useful was it for you? "
                    "Tap 1 (not useful) to 5 (very useful).",
                    topic=f.topic,
                ),
                tuple(Choice(str(n), feedback_payload(booking_id, n)) for n in range(1, 6)),
            )

        return await self._tell(uow, booking_id, "feedback", render)

    async def _tell(
        self,
        uow: UnitOfWork,
        booking_id: int,
        event: str,
        render: Callable[[Translator, _Facts], Reply],
    ) -> int:
        found = (
            await uow.session.execute(
                select(
                    BookingRow.person_id,
                    BookingRow.code,
                    WorkshopRow.topic,
                    WorkshopRow.starts_at,
                    WorkshopRow.ends_at,
                    WorkshopRow.place,
                    WorkshopRow.place_en,
                    FactoryRow.timezone,
                )
                .join(WorkshopRow, WorkshopRow.id == BookingRow.workshop_id)
                .join(FactoryRow, FactoryRow.id == WorkshopRow.factory_id)
                .where(BookingRow.id == booking_id)
            )
        ).one()
        facts = _Facts(booking_id, *found)
        return await tell_people(
            uow,
            self._translators,
            [facts.person_id],
            f"booking:{booking_id}:{event}",
            lambda t: render(t, facts),
        )
