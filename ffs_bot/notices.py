"""What families are told when something changes for their child: rendered, then queued.

Each guardian gets the notice on every channel they use, in their own language, through the
outbox. Keys name the registration and the event, so a step run twice queues one notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from ffs_bot.db.tables import (
    ChildRow,
    FactoryRow,
    GuardianRow,
    IdentityRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.i18n import Translator, Translators, negotiate_language
from ffs_bot.messages import Choice, Reply
from ffs_bot.outbox import enqueue

__all__ = ["DEFAULT_OFFER_WINDOW", "FamilyNotifier", "offer_payload", "tell_people"]

DEFAULT_OFFER_WINDOW = timedelta(hours=24)


def offer_payload(answer: str, registration_id: int) -> str:
    """The button payload that accepts ("yes") or declines ("no") an offered place."""
    return f"offer:{answer}:{registration_id}"


@dataclass(frozen=True, slots=True)
class _Facts:
    registration_id: int
    child_id: int
    child_name: str
    starts_on: date
    ends_on: date
    timezone: str


Render = Callable[[Translator, _Facts], Reply]


class FamilyNotifier:
    """Queues notices to a child's guardians; knows how long an offered place is held."""

    def __init__(
        self, translators: Translators, offer_window: timedelta = DEFAULT_OFFER_WINDOW
    ) -> None:
        self._translators = translators
        self.offer_window = offer_window

    async def confirmed(self, uow: UnitOfWork, registration_id: int) -> int:
        """The coordinator confirmed the child's place."""

        def render(t: Translator, facts: _Facts) -> Reply:
            return Reply(
                t._(
                    "Good news: {name} has a place in the Family-Friendly Space, {days}.",
                    name=facts.child_name,
                    days=t.date_range(facts.starts_on, facts.ends_on),
                )
            )

        return await self._tell(uow, registration_id, "confirmed", render)

    async def declined(self, uow: UnitOfWork, registration_id: int, reason: str) -> int:
        """The coordinator declined the registration, with their reason."""

        def render(t: Translator, facts: _Facts) -> Reply:
            return Reply(
                t._(
                    "Sorry, {name} cannot come to the Family-Friendly Space, {days}.\n"
                    "Reason: {reason}",
                    name=facts.child_name,
                    days=t.date_range(facts.starts_on, facts.ends_on),
                    reason=reason,
                )
            )

        return await self._tell(uow, registration_id, "declined", render)

    async def offered(self, uow: UnitOfWork, registration_id: int, until: datetime) -> int:
        """A freed place is held for a waitlisted child until `until`."""

        def render(t: Translator, facts: _Facts) -> Reply:
            return Reply(
                t._(
                    "A place has opened for {name} in the Family-Friendly Space, {days}. "
                    "Do you want it? Please answer by {time}.",
                    name=facts.child_name,
                    days=t.date_range(facts.starts_on, facts.ends_on),
                    time=t.datetime(until, facts.timezone, "short"),
                ),
                (
                    Choice(t._("Yes, we want it"), offer_payload("yes", registration_id)),
                    Choice(t._("No, pass it on"), offer_payload("no", registration_id)),
                ),
            )

        return await self._tell(uow, registration_id, "offer", render)

    async def offer_expired(self, uow: UnitOfWork, registration_id: int) -> int:
        """Nobody answered an offer in time; the place went to the next family."""

        def render(t: Translator, facts: _Facts) -> Reply:
            return Reply(
                t._(
                    "We had no answer in time, so the place offered to {name} went to the "
                    "next family. You can register again from the menu.",
                    name=facts.child_name,
                )
            )

        return await self._tell(uow, registration_id, "offer_expired", render)

    async def _tell(
        self, uow: UnitOfWork, registration_id: int, event: str, render: Render
    ) -> int:
        found = await uow.session.execute(
            select(
                RegistrationRow.child_id,
                ChildRow.name,
                RegistrationRow.starts_on,
                RegistrationRow.ends_on,
                FactoryRow.timezone,
            )
            .join(ChildRow, ChildRow.id == RegistrationRow.child_id)
            .join(SeasonRow, SeasonRow.id == RegistrationRow.season_id)
            .join(FactoryRow, FactoryRow.id == SeasonRow.factory_id)
            .where(RegistrationRow.id == registration_id)
        )
        row = found.one()
        facts = _Facts(registration_id, row[0], row[1], row[2], row[3], row[4])
        guardians = select(GuardianRow.person_id).where(GuardianRow.child_id == facts.child_id)
        return await tell_people(
            uow,
            self._translators,
            list(await uow.session.scalars(guardians)),
            f"registration:{registration_id}:{event}",
            lambda t: render(t, facts),
        )


async def tell_people(
    uow: UnitOfWork,
    translators: Translators,
    person_ids: list[int],
    key: str,
    render: Callable[[Translator], Reply],
) -> int:
    """Queue a push to each person on every channel they use, in their language.

    `key` names the event; with the account appended it is the outbox's idempotency key, so
    telling the same event twice queues nothing more. Returns how many pushes were queued.
    """
    if not person_ids:
        return 0
    recipients = await uow.session.execute(
        select(
            IdentityRow.id,
            IdentityRow.channel,
            IdentityRow.external_user_id,
            IdentityRow.language_hint,
            PersonRow.language,
        )
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(PersonRow.id.in_(person_ids))
        .order_by(IdentityRow.id)
    )
    queued = 0
    for identity_id, channel, user_id, hint, language in recipients:
        queued += await enqueue(
            uow,
            channel=channel,
            recipient=user_id,
            replies=[render(translators[language or negotiate_language(hint)])],
            idempotency_key=f"{key}:{identity_id}",
        )
    return queued
