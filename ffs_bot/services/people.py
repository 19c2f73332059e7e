"""People and their channel identities: first contact, language, name, factory, consent."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from sqlalchemy import null, select
from sqlalchemy.exc import IntegrityError

from ffs_bot.db.tables import ConsentRow, ConversationRow, IdentityRow, PersonRow, utcnow
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import InvalidInput, NotFound
from ffs_bot.i18n import LANGUAGES
from ffs_bot.model import ConversationState, Identity, Person, PersonStatus
from ffs_bot.outbox import stop_pending_for
from ffs_bot.privacy import PRIVACY_CONSENT, PRIVACY_NOTICE_VERSION
from ffs_bot.services.audit import record_event

__all__ = [
    "MAX_DISPLAY_NAME",
    "clean_display_name",
    "complete_onboarding",
    "decline_privacy",
    "find_identity",
    "get_person",
    "grant_privacy",
    "has_privacy_consent",
    "open_conversation",
    "set_display_name",
    "set_factory",
    "set_language",
    "set_reachable",
    "touch_identity",
]

MAX_DISPLAY_NAME = 30
# Punctuation that belongs in names people use: 王·小明, Mary-Jane, O'Neil, Dr. Li.
_NAME_PUNCTUATION = frozenset(" ·.-'’")
MAX_HINT = 35
# How precisely we keep when a person last wrote: writing it on every message costs a write.
SEEN_RESOLUTION = timedelta(minutes=1)


def clean_display_name(text: str) -> str:
    """Return a tidy form of the name a person wants to be called by.

    Raises:
        InvalidInput: empty, too long, no letters, or characters names do not contain.
    """
    name = " ".join(unicodedata.normalize("NFKC", text).split())
    if not name:
        raise InvalidInput("empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput("too long")
    has_letter = False
    for char in name:
        category = unicodedata.category(char)
        if category.startswith("L"):
            has_letter = True
        elif not (category.startswith(("M", "N")) or char in _NAME_PUNCTUATION):
            raise InvalidInput("character")
    if not has_letter:
        raise InvalidInput("no letters")
    return name


def _to_person(row: PersonRow) -> Person:
    return Person(
        id=row.id,
        display_name=row.display_name,
        language=row.language,
        factory_id=row.factory_id,
        status=PersonStatus(row.status),
        onboarded_at=row.onboarded_at,
    )


def _to_identity(row: IdentityRow) -> Identity:
    return Identity(
        id=row.id,
        person_id=row.person_id,
        channel=row.channel,
        external_user_id=row.external_user_id,
        language_hint=row.language_hint,
    )


async def _person_row(uow: UnitOfWork, person_id: int) -> PersonRow:
    row = await uow.session.get(PersonRow, person_id)
    if row is None:
        raise NotFound(f"person {person_id}")
    return row


async def find_identity(
    uow: UnitOfWork, channel: str, external_user_id: str
) -> tuple[Person, Identity] | None:
    """Return the person behind a channel account, if we know them."""
    row = await uow.session.scalar(
        select(IdentityRow).where(
            IdentityRow.channel == channel, IdentityRow.external_user_id == external_user_id
        )
    )
    if row is None:
        return None
    return _to_person(await _person_row(uow, row.person_id)), _to_identity(row)


async def touch_identity(
    uow: UnitOfWork,
    channel: str,
    external_user_id: str,
    language_hint: str | None = None,
    *,
    seen: bool = True,
) -> tuple[Person, Identity]:
    """Return the person writing from this account, creating them on first contact.

    With `seen` (a message from them), note the time and make a stopped person active again.
    """
    person, identity, _state = await _touch(uow, channel, external_user_id, language_hint, seen)
    return person, identity


async def open_conversation(
    uow: UnitOfWork, channel: str, external_user_id: str, language_hint: str | None
) -> tuple[Person, Identity, ConversationState]:
    """`touch_identity` for a message, with where the person is in the conversation."""
    return await _touch(uow, channel, external_user_id, language_hint, True, with_state=True)


async def _touch(
    uow: UnitOfWork,
    channel: str,
    external_user_id: str,
    language_hint: str | None,
    seen: bool,
    *,
    with_state: bool = False,
) -> tuple[Person, Identity, ConversationState]:
    hint = (language_hint or "")[:MAX_HINT] or None
    # One read for identity, person and (for a message) the conversation state.
    query = (
        select(IdentityRow, PersonRow, ConversationRow if with_state else null())
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(IdentityRow.channel == channel, IdentityRow.external_user_id == external_user_id)
    )
    if with_state:
        query = query.outerjoin(ConversationRow, ConversationRow.identity_id == IdentityRow.id)
    if uow.dialect == "postgresql":
        # One person's messages, whichever replica takes them, run one after the other.
        query = query.with_for_update(of=IdentityRow)
    found_row = (await uow.session.execute(query)).first()
    if found_row is None:
        try:
            # A savepoint, so a concurrent first message from the same account only
            # undoes this attempt, not the caller's transaction.
            async with uow.session.begin_nested():
                person = PersonRow(status=PersonStatus.ACTIVE.value)
                uow.session.add(person)
                await uow.session.flush()
                row = IdentityRow(
                    person_id=person.id,
                    channel=channel,
                    external_user_id=external_user_id,
                    language_hint=hint,
                )
                uow.session.add(row)
            uow.pin(row, person)
        except IntegrityError:
            # The same account's first message, handled meanwhile: read what it made.
            return await _touch(
                uow, channel, external_user_id, language_hint, seen, with_state=with_state
            )
        return _to_person(person), _to_identity(row), ConversationState()
    row, person, conversation = found_row
    uow.pin(row, person)
    state = (
        ConversationState(conversation.step, dict(conversation.data), list(conversation.choices))
        if isinstance(conversation, ConversationRow)
        else ConversationState()
    )
    if seen:
        now = utcnow()
        if now - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = now
        if hint and hint != row.language_hint:
            row.language_hint = hint
        if person.status != PersonStatus.ACTIVE.value:
            person.status = PersonStatus.ACTIVE.value
    return _to_person(person), _to_identity(row), state


async def get_person(uow: UnitOfWork, person_id: int) -> Person:
    """Return the person with this id."""
    return _to_person(await _person_row(uow, person_id))


async def set_language(uow: UnitOfWork, person_id: int, language: str) -> Person:
    """Store the language a person chose; it wins over their app's language from now on."""
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}")
    row = await _person_row(uow, person_id)
    row.language = language
    return _to_person(row)


async def set_factory(uow: UnitOfWork, person_id: int, factory_id: int) -> Person:
    """Move a person to another factory."""
    row = await _person_row(uow, person_id)
    row.factory_id = factory_id
    await record_event(
        uow,
        "person.factory",
        actor_person_id=person_id,
        subject_type="person",
        subject_id=person_id,
        factory_id=factory_id,
    )
    return _to_person(row)


async def set_display_name(uow: UnitOfWork, person_id: int, name: str) -> Person:
    """Store what a person wants to be called (validated by `clean_display_name`)."""
    row = await _person_row(uow, person_id)
    row.display_name = clean_display_name(name)
    return _to_person(row)


async def _answer_privacy(uow: UnitOfWork, person_id: int, *, granted: bool) -> None:
    """Record a yes or no to the current notice, with the audit event that goes with it."""
    uow.session.add(
        ConsentRow(
            person_id=person_id,
            kind=PRIVACY_CONSENT,
            notice_version=PRIVACY_NOTICE_VERSION,
            granted=granted,
        )
    )
    await record_event(
        uow,
        "consent.granted" if granted else "consent.refused",
        actor_person_id=person_id,
        subject_type="person",
        subject_id=person_id,
        kind=PRIVACY_CONSENT,
        version=PRIVACY_NOTICE_VERSION,
    )


async def grant_privacy(uow: UnitOfWork, person_id: int, factory_id: int) -> Person:
    """Record agreement to the current privacy notice and keep the factory chosen before it."""
    row = await _person_row(uow, person_id)
    await _answer_privacy(uow, person_id, granted=True)
    row.factory_id = factory_id
    return _to_person(row)


async def decline_privacy(uow: UnitOfWork, person_id: int) -> None:
    """Record a refusal and keep nothing else the person told us."""
    row = await _person_row(uow, person_id)
    await _answer_privacy(uow, person_id, granted=False)
    row.display_name = None
    row.factory_id = None
    row.language = None
    row.onboarded_at = None


async def has_privacy_consent(uow: UnitOfWork, person_id: int) -> bool:
    """Whether the person's latest answer to the current notice is a standing yes."""
    row = await uow.session.scalar(
        select(ConsentRow)
        .where(
            ConsentRow.person_id == person_id,
            ConsentRow.kind == PRIVACY_CONSENT,
            ConsentRow.notice_version == PRIVACY_NOTICE_VERSION,
        )
        .order_by(ConsentRow.id.desc())
        .limit(1)
    )
    return row is not None and row.granted and row.withdrawn_at is None


async def complete_onboarding(uow: UnitOfWork, person_id: int, name: str) -> Person:
    """Store the person's name and mark their first contact finished."""
    row = await _person_row(uow, person_id)
    row.display_name = clean_display_name(name)
    if row.onboarded_at is None:
        row.onboarded_at = utcnow()
    return _to_person(row)


async def set_reachable(
    uow: UnitOfWork, channel: str, external_user_id: str, *, reachable: bool
) -> Person | None:
    """Mark a person active again, or stopped (they blocked us): no pushes reach them then."""
    found = await find_identity(uow, channel, external_user_id)
    if found is None:
        return None
    row = await _person_row(uow, found[0].id)
    status = PersonStatus.ACTIVE if reachable else PersonStatus.STOPPED
    if row.status != status.value:
        row.status = status.value
        await record_event(
            uow,
            f"person.{status.value}",
            subject_type="person",
            subject_id=row.id,
            channel=channel,
        )
    if not reachable:
        await stop_pending_for(uow, row.id)
    return _to_person(row)
