"""People and their channel identities: first contact, language, name, factory, consent."""

from __future__ import annotations

import functools
import unicodedata
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Select, Update, bindparam, delete, func, insert, select, update

from ffs_bot.db.sql import insert_for, table_of
from ffs_bot.db.tables import (
    ConsentRow,
    ConversationRow,
    IdentityRow,
    PersonRow,
    UTCDateTime,
    utcnow,
)
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
    "refuse_renewal",
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


# The per-message path reads and writes with Core statements: no ORM rows, identity map or
# flush, which took more time than the SQL itself. Statements are built once and take their
# values as parameters, so SQLAlchemy compiles each one once.
_PERSON = table_of(PersonRow)
_IDENTITY = table_of(IdentityRow)
_CONVERSATION = table_of(ConversationRow)
_CONSENT = table_of(ConsentRow)
_PERSON_COLUMNS = (
    _PERSON.c.id,
    _PERSON.c.display_name,
    _PERSON.c.language,
    _PERSON.c.factory_id,
    _PERSON.c.status,
    _PERSON.c.onboarded_at,
    _PERSON.c.privacy_version,
)
_GET_PERSON = select(*_PERSON_COLUMNS).where(_PERSON.c.id == bindparam("person_id"))
_NEW_PERSON = insert(_PERSON).returning(_PERSON.c.id)
_DELETE_PERSON = delete(_PERSON).where(_PERSON.c.id == bindparam("person_id"))
_LATEST_PRIVACY_ANSWER = (
    select(_CONSENT.c.granted, _CONSENT.c.withdrawn_at)
    .where(
        _CONSENT.c.person_id == bindparam("person_id"),
        _CONSENT.c.kind == PRIVACY_CONSENT,
        _CONSENT.c.notice_version == PRIVACY_NOTICE_VERSION,
    )
    .order_by(_CONSENT.c.id.desc())
    .limit(1)
)
_ADD_CONSENT = insert(_CONSENT)


def _to_person(row: Row[*tuple[Any, ...]]) -> Person:
    return Person(
        id=row.id,
        display_name=row.display_name,
        language=row.language,
        factory_id=row.factory_id,
        status=PersonStatus(row.status),
        onboarded_at=row.onboarded_at,
        privacy_version=row.privacy_version,
    )


@functools.cache
def _conversation_query(dialect: str) -> Select[Any]:
    """Identity, person and conversation state in one read, by channel and account."""
    query = (
        select(
            _IDENTITY.c.id.label("identity_id"),
            _IDENTITY.c.person_id,
            _IDENTITY.c.language_hint,
            _IDENTITY.c.last_seen_at,
            *_PERSON_COLUMNS,
            _CONVERSATION.c.step,
            _CONVERSATION.c.data,
            _CONVERSATION.c.choices,
            _CONVERSATION.c.window_started_at,
            _CONVERSATION.c.window_count,
        )
        .select_from(
            _IDENTITY.join(_PERSON, _PERSON.c.id == _IDENTITY.c.person_id).outerjoin(
                _CONVERSATION, _CONVERSATION.c.identity_id == _IDENTITY.c.id
            )
        )
        .where(
            _IDENTITY.c.channel == bindparam("channel"),
            _IDENTITY.c.external_user_id == bindparam("external_user_id"),
        )
    )
    if dialect == "postgresql":
        # One person's messages, whichever replica takes them, run one after the other.
        query = query.with_for_update(of=_IDENTITY)
    return query


@functools.cache
def _new_identity(dialect: str) -> Any:
    """Insert an identity unless the account has one; returns the new id, or no row."""
    return (
        insert_for(dialect)(_IDENTITY)
        .on_conflict_do_nothing(index_elements=["channel", "external_user_id"])
        .returning(_IDENTITY.c.id)
    )


@functools.cache
def _update_person(columns: frozenset[str]) -> Update:
    """Set `columns` (given as parameters of the same names) on one person; return them."""
    return (
        update(_PERSON)
        .where(_PERSON.c.id == bindparam("person_id"))
        .values({name: bindparam(name) for name in columns})
        .returning(*_PERSON_COLUMNS)
    )


_COMPLETE_ONBOARDING = (
    update(_PERSON)
    .where(_PERSON.c.id == bindparam("person_id"))
    .values(
        display_name=bindparam("display_name"),
        onboarded_at=func.coalesce(_PERSON.c.onboarded_at, bindparam("now", type_=UTCDateTime)),
    )
    .returning(*_PERSON_COLUMNS)
)


async def _set(uow: UnitOfWork, person_id: int, **values: Any) -> Person:
    """Change a person's columns; return the person as changed.

    Raises:
        NotFound: there is no such person.
    """
    return await _changed(uow, person_id, _update_person(frozenset(values)), values)


async def _changed(
    uow: UnitOfWork, person_id: int, statement: Update, values: dict[str, Any]
) -> Person:
    row = (await uow.session.execute(statement, {"person_id": person_id, **values})).first()
    if row is None:
        raise NotFound(f"person {person_id}")
    return _to_person(row)


async def find_identity(
    uow: UnitOfWork, channel: str, external_user_id: str
) -> tuple[Person, Identity] | None:
    """Return the person behind a channel account, if we know them."""
    row = (
        await uow.session.execute(
            _conversation_query(uow.dialect),
            {"channel": channel, "external_user_id": external_user_id},
        )
    ).first()
    if row is None:
        return None
    return _to_person(row), _identity(row, channel, external_user_id, row.language_hint)


def _identity(
    row: Row[*tuple[Any, ...]], channel: str, external_user_id: str, hint: str | None
) -> Identity:
    return Identity(
        id=row.identity_id,
        person_id=row.person_id,
        channel=channel,
        external_user_id=external_user_id,
        language_hint=hint,
    )


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
    return await _touch(uow, channel, external_user_id, language_hint, True)


async def _touch(
    uow: UnitOfWork,
    channel: str,
    external_user_id: str,
    language_hint: str | None,
    seen: bool,
) -> tuple[Person, Identity, ConversationState]:
    hint = (language_hint or "")[:MAX_HINT] or None
    account = {"channel": channel, "external_user_id": external_user_id}
    row = (await uow.session.execute(_conversation_query(uow.dialect), account)).first()
    if row is None:
        # An account we learn of otherwise than by its message (a role grant) is silent:
        # nothing is pushed to a chat that has not written to us.
        status = PersonStatus.ACTIVE if seen else PersonStatus.SILENT
        person_id = (await uow.session.execute(_NEW_PERSON, {"status": status.value})).scalar_one()
        # On PostgreSQL a concurrent first message from the same account makes this insert
        # wait for that transaction, and insert nothing if it committed.
        identity_id = (
            await uow.session.execute(
                _new_identity(uow.dialect),
                {**account, "person_id": person_id, "language_hint": hint},
            )
        ).scalar()
        if identity_id is None:
            # That message made the account: drop our person and read what it made.
            await uow.session.execute(_DELETE_PERSON, {"person_id": person_id})
            return await _touch(uow, channel, external_user_id, language_hint, seen)
        person = Person(person_id, None, None, None, status, None)
        identity = Identity(identity_id, person_id, channel, external_user_id, hint)
        return person, identity, ConversationState()
    state = (
        ConversationState(
            row.step, dict(row.data), list(row.choices), row.window_started_at, row.window_count
        )
        if row.step is not None
        else ConversationState()
    )
    person = _to_person(row)
    stored_hint = row.language_hint
    if seen:
        changes: dict[str, Any] = {}
        now = utcnow()
        if now - row.last_seen_at >= SEEN_RESOLUTION:
            changes["last_seen_at"] = now
        if hint and hint != stored_hint:
            changes["language_hint"] = stored_hint = hint
        if changes:
            await uow.session.execute(
                update(_IDENTITY).where(_IDENTITY.c.id == row.identity_id).values(changes)
            )
        if person.status is not PersonStatus.ACTIVE:
            person = await _set(uow, person.id, status=PersonStatus.ACTIVE.value)
    return person, _identity(row, channel, external_user_id, stored_hint), state


async def get_person(uow: UnitOfWork, person_id: int) -> Person:
    """Return the person with this id."""
    row = (await uow.session.execute(_GET_PERSON, {"person_id": person_id})).first()
    if row is None:
        raise NotFound(f"person {person_id}")
    return _to_person(row)


async def set_language(uow: UnitOfWork, person_id: int, language: str) -> Person:
    """Store the language a person chose; it wins over their app's language from now on."""
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}")
    return await _set(uow, person_id, language=language)


async def set_factory(uow: UnitOfWork, person_id: int, factory_id: int) -> Person:
    """Move a person to another factory."""
    person = await _set(uow, person_id, factory_id=factory_id)
    await record_event(
        uow,
        "person.factory",
        actor_person_id=person_id,
        subject_type="person",
        subject_id=person_id,
        factory_id=factory_id,
    )
    return person


async def set_display_name(uow: UnitOfWork, person_id: int, name: str) -> Person:
    """Store what a person wants to be called (validated by `clean_display_name`)."""
    return await _set(uow, person_id, display_name=clean_display_name(name))


async def _answer_privacy(uow: UnitOfWork, person_id: int, *, granted: bool) -> None:
    """Record a yes or no to the current notice, with the audit event that goes with it."""
    if granted:
        await _set(uow, person_id, privacy_version=PRIVACY_NOTICE_VERSION)
    await _record_privacy_answer(uow, person_id, granted=granted)


async def _record_privacy_answer(uow: UnitOfWork, person_id: int, *, granted: bool) -> None:
    """The consent row of an answer to the current notice, and its audit event."""
    await uow.session.execute(
        _ADD_CONSENT,
        {
            "person_id": person_id,
            "kind": PRIVACY_CONSENT,
            "notice_version": PRIVACY_NOTICE_VERSION,
            "granted": granted,
        },
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


async def grant_privacy(uow: UnitOfWork, person_id: int, factory_id: int | None = None) -> Person:
    """Record agreement to the current privacy notice, keeping the factory chosen before it."""
    values: dict[str, Any] = {"privacy_version": PRIVACY_NOTICE_VERSION}
    if factory_id is not None:
        values["factory_id"] = factory_id
    # One UPDATE ... RETURNING sets both and gives back the person as changed.
    person = await _set(uow, person_id, **values)
    await _record_privacy_answer(uow, person_id, granted=True)
    return person


async def decline_privacy(uow: UnitOfWork, person_id: int) -> None:
    """Record a refusal at first contact and keep nothing else the person told us."""
    await _set(
        uow,
        person_id,
        display_name=None,
        factory_id=None,
        language=None,
        onboarded_at=None,
        privacy_version=None,
    )
    await _answer_privacy(uow, person_id, granted=False)


async def refuse_renewal(uow: UnitOfWork, person_id: int) -> None:
    """Record a no to a new notice version; the person keeps what they agreed to before."""
    await _answer_privacy(uow, person_id, granted=False)


async def has_privacy_consent(uow: UnitOfWork, person_id: int) -> bool:
    """Whether the person's latest answer to the current notice is a standing yes."""
    row = (await uow.session.execute(_LATEST_PRIVACY_ANSWER, {"person_id": person_id})).first()
    return row is not None and bool(row.granted) and row.withdrawn_at is None


async def complete_onboarding(uow: UnitOfWork, person_id: int, name: str) -> Person:
    """Store the person's name and mark their first contact finished."""
    values = {"display_name": clean_display_name(name), "now": utcnow()}
    return await _changed(uow, person_id, _COMPLETE_ONBOARDING, values)


async def set_reachable(
    uow: UnitOfWork, channel: str, external_user_id: str, *, reachable: bool
) -> Person | None:
    """Mark a person active again, or stopped (they blocked us): no pushes reach them then."""
    found = await find_identity(uow, channel, external_user_id)
    if found is None:
        return None
    person = found[0]
    status = PersonStatus.ACTIVE if reachable else PersonStatus.STOPPED
    if person.status is not status:
        person = await _set(uow, person.id, status=status.value)
        await record_event(
            uow,
            f"person.{status.value}",
            subject_type="person",
            subject_id=person.id,
            channel=channel,
        )
    if not reachable:
        await stop_pending_for(uow, person.id)
    return person
