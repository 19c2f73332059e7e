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
    ChildInviteRow,
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

__all__ = [
    "DEFAULT_OFFER_WINDOW",
    "UNDO_JOIN_PREFIX",
    "FamilyNotifier",
    "offer_payload",
    "tell_people",
    "undo_join_payload",
]

DEFAULT_OFFER_WINDOW = timedelta(hours=24)
UNDO_JOIN_PREFIX = "guardian:undo:"


def offer_payload(answer: str, registration_id: int) -> str:
    """The button payload that accepts ("yes") or declines ("no") an offered place."""
    return f"offer:{answer}:{registration_id}"


def undo_join_payload(invite_id: int) -> str:
    """The button payload with which an inviting guardian undoes a join with their code."""
    return f"{UNDO_JOIN_PREFIX}{invite_id}"


@dataclass(frozen=True, slots=True)
class _InviteFacts:
    invite_id: int
    child_name: str
    inviter_id: int
    inviter_name: str
    joiner_id: int | None
    joiner_name: str


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
                    time=t.weekday_moment(until, facts.timezone),
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

    async def guardian_joined(self, uow: UnitOfWork, invite_id: int) -> int:
        """Someone joined a child with the inviting guardian's code: tell them, with Undo."""
        facts = await _invite_facts(uow, invite_id)

        def render(t: Translator) -> Reply:
            return Reply(
                t._(
                    "{person} used your invite code and is now a guardian of {name}. "
                    "If this is not the right person, tap Undo.",
                    person=facts.joiner_name,
                    name=facts.child_name,
                ),
                (Choice(t._("Undo"), undo_join_payload(invite_id)),),
            )

        return await self._tell_invite(uow, facts, [facts.inviter_id], "joined", render)

    async def invite_void(self, uow: UnitOfWork, invite_id: int) -> int:
        """An invite code was typed wrongly too often and no longer works: tell its maker."""
        facts = await _invite_facts(uow, invite_id)

        def render(t: Translator) -> Reply:
            return Reply(
                t._(
                    "Someone typed your invite code for {name} wrongly too many times, so "
                    "it no longer works. To invite the other parent, make a new code.",
                    name=facts.child_name,
                ),
                (Choice(t._("My children"), "go:children"),),
            )

        return await self._tell_invite(uow, facts, [facts.inviter_id], "void", render)

    async def join_undone(self, uow: UnitOfWork, invite_id: int) -> int:
        """The inviting guardian undid a join: tell the person who was removed."""
        facts = await _invite_facts(uow, invite_id)
        if facts.joiner_id is None:
            return 0

        def render(t: Translator) -> Reply:
            return Reply(
                t._(
                    "{person} undid your joining. You are no longer a guardian of {name}.",
                    person=facts.inviter_name,
                    name=facts.child_name,
                )
            )

        return await self._tell_invite(uow, facts, [facts.joiner_id], "undone", render)

    async def _tell_invite(
        self,
        uow: UnitOfWork,
        facts: _InviteFacts,
        person_ids: list[int],
        event: str,
        render: Callable[[Translator], Reply],
    ) -> int:
        key = f"guardian:{facts.invite_id}:{event}"
        return await tell_people(uow, self._translators, person_ids, key, render)

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


async def _invite_facts(uow: UnitOfWork, invite_id: int) -> _InviteFacts:
    inviter = select(PersonRow.display_name).where(PersonRow.id == ChildInviteRow.created_by)
    joiner = select(PersonRow.display_name).where(PersonRow.id == ChildInviteRow.used_by)
    found = await uow.session.execute(
        select(
            ChildRow.name,
            ChildInviteRow.created_by,
            inviter.scalar_subquery(),
            ChildInviteRow.used_by,
            joiner.scalar_subquery(),
        )
        .join(ChildRow, ChildRow.id == ChildInviteRow.child_id)
        .where(ChildInviteRow.id == invite_id)
    )
    name, inviter_id, inviter_name, joiner_id, joiner_name = found.one()
    return _InviteFacts(
        invite_id, name, inviter_id, inviter_name or "", joiner_id, joiner_name or ""
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
