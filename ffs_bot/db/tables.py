"""SQLAlchemy tables; the schema itself changes only through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiTokenRow",
    "AttendanceRow",
    "AuditEventRow",
    "Base",
    "BookingRow",
    "BroadcastRow",
    "ChildInviteRow",
    "ChildRow",
    "ConsentRow",
    "ConversationRow",
    "FactoryRow",
    "FeedbackRow",
    "GuardianRow",
    "IdentityRow",
    "InboundUpdateRow",
    "InviteAttemptRow",
    "OutboxRow",
    "PersonRow",
    "ProcessedInboundRow",
    "RegistrationRow",
    "RoleRow",
    "SafeguardingAlertRow",
    "ScheduledPushRow",
    "SeasonRow",
    "SeasonSponsorRow",
    "SignedRequestRow",
    "SponsorRow",
    "TipDeliveryRow",
    "TipRow",
    "TipSubscriptionRow",
    "WorkshopRow",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Registrations that still count: not cancelled by the family and not declined.
LIVE_REGISTRATION = "status NOT IN ('cancelled', 'declined')"


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class FactoryRow(Base):
    """A factory; `code` is what posters, QR codes and deep links carry."""

    __tablename__ = "factory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(60), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PersonRow(Base):
    """A worker or staff member."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str | None] = mapped_column(String(16))
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    onboarded_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The privacy notice version the person last agreed to: read with the person on every
    # message, so a new version is noticed without a query of its own.
    privacy_version: Mapped[str | None] = mapped_column(String(16))
    # Set when the person asked us to forget them: the row stays, emptied, so that the
    # programme's anonymous counts (parents, seats, tips) stay right.
    erased_at: Mapped[datetime | None] = mapped_column()


class IdentityRow(Base):
    """A person's account on one channel."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_user_id: Mapped[str] = mapped_column(String(128))
    language_hint: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRow(Base):
    """Where one identity is in a conversation, saved with each step."""

    __tablename__ = "conversation"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identity.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    choices: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Messages counted in the current one-minute window, for the per-person rate limit: kept
    # here because this row is written with every message anyway, by whichever replica.
    window_started_at: Mapped[datetime | None] = mapped_column()
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ConsentRow(Base):
    """A consent given or refused, with the notice version the person saw."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Which child a guardian consent is about; kept (emptied) when the child's data is erased.
    child_id: Mapped[int | None] = mapped_column(
        ForeignKey("child.id", ondelete="SET NULL"), index=True
    )
    notice_version: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class ChildRow(Base):
    """A worker's child: the name the family uses and the birth month; never ID numbers."""

    __tablename__ = "child"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    birth_year: Mapped[int] = mapped_column(Integer)
    birth_month: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(8))
    # Only after the separate health consent.
    health_notes: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when the child's data was erased: a child with registrations stays as an anonymous
    # row (no name, gender, notes or birth month) so that the reports still count them.
    erased_at: Mapped[datetime | None] = mapped_column()


class GuardianRow(Base):
    """A person who is a guardian of a child, and how they are related."""

    __tablename__ = "guardian"

    child_id: Mapped[int] = mapped_column(
        ForeignKey("child.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relationship: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChildInviteRow(Base):
    """A one-time code with which a second guardian joins a child."""

    __tablename__ = "child_invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    # The code's first letters: what finds the invite, so a wrong rest counts against it.
    lookup: Mapped[str] = mapped_column(String(8), index=True)
    # Wrong codes typed against this invite (its lookup right, the rest wrong).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InviteAttemptRow(Base):
    """A wrong invite code typed by a person: how many they may still try is counted here."""

    __tablename__ = "invite_attempt"
    __table_args__ = (Index("ix_invite_attempt_person", "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SeasonRow(Base):
    """A Family-Friendly Space at one factory for one summer."""

    __tablename__ = "season"
    __table_args__ = (CheckConstraint("seats_taken <= capacity", name="seats_within_capacity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factory.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    min_age_years: Mapped[int] = mapped_column(Integer)
    max_age_years: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    # Seats held by confirmed or requested registrations; taken by one conditional UPDATE.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    registration_deadline: Mapped[date] = mapped_column(Date)
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=True)
    # "self" (the factory pays) or "sponsor".
    funding: Mapped[str] = mapped_column(String(16), default="self")
    registration_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # How families find the room, in the coordinator's words: Chinese (or the only text)
    # here, English in place_en; each reader sees theirs (model.Bilingual).
    place: Mapped[str] = mapped_column(String(200), default="")
    place_en: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SponsorRow(Base):
    """A brand or donor that pays for seasons."""

    __tablename__ = "sponsor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeasonSponsorRow(Base):
    """A sponsor paying for a season."""

    __tablename__ = "season_sponsor"

    season_id: Mapped[int] = mapped_column(
        ForeignKey("season.id", ondelete="CASCADE"), primary_key=True
    )
    sponsor_id: Mapped[int] = mapped_column(
        ForeignKey("sponsor.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RegistrationRow(Base):
    """A child registered for a season; see `RegistrationStatus` for the statuses."""

    __tablename__ = "registration"
    __table_args__ = (
        # One live registration per child and season; ended ones stay as history.
        Index(
            "uq_registration_live",
            "season_id",
            "child_id",
            unique=True,
            sqlite_where=text(LIVE_REGISTRATION),
            postgresql_where=text(LIVE_REGISTRATION),
        ),
        Index("ix_registration_queue", "season_id", "status", "id"),
        Index("ix_registration_offer", "status", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    season_id: Mapped[int] = mapped_column(ForeignKey("season.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # A waitlisted child offered a freed seat holds it until then.
    offer_expires_at: Mapped[datetime | None] = mapped_column()
    # Why it was declined or ended (the coordinator's words, or a code such as offer_expired).
    reason: Mapped[str] = mapped_column(String(200), default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AttendanceRow(Base):
    """A child checked in (and later out) of the space on one day."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("registration_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date, index=True)
    checked_in_at: Mapped[datetime] = mapped_column()
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    checked_out_at: Mapped[datetime | None] = mapped_column()
    checked_out_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )


class WorkshopRow(Base):
    """A half-day Migrant Parent Training workshop at a factory."""

    __tablename__ = "workshop"
    __table_args__ = (
        CheckConstraint("seats_taken <= capacity", name="seats_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_workshop_factory_start", "factory_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factory.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    topic: Mapped[str] = mapped_column(String(120))
    # The language it is given in: zh_Hans or en.
    language: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    # Seats held by confirmed and offered bookings; taken by one conditional UPDATE.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    # Where it is: Chinese (or the only text) and English (model.Bilingual).
    place: Mapped[str] = mapped_column(String(200), default="")
    place_en: Mapped[str] = mapped_column(String(200), default="")
    trainer: Mapped[str] = mapped_column(String(100), default="")
    # Shown at the door: a worker who sends it is checked in.
    door_code: Mapped[str] = mapped_column(String(8), unique=True)
    cancelled_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BookingRow(Base):
    """A person's seat (or place in the queue) at a workshop."""

    __tablename__ = "booking"
    __table_args__ = (
        # One live booking per person and workshop; cancelled ones stay as history.
        Index(
            "uq_booking_live",
            "workshop_id",
            "person_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_booking_queue", "workshop_id", "status", "id"),
        Index("ix_booking_offer", "status", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # confirmed, waitlisted, offered or cancelled
    status: Mapped[str] = mapped_column(String(16))
    # The short code the worker shows at the door.
    code: Mapped[str] = mapped_column(String(8), unique=True)
    offer_expires_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(32), default="")
    checked_in_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FeedbackRow(Base):
    """What a person thought of a workshop they attended: 1 to 5, and optional words."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),)

    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduledPushRow(Base):
    """A push due later (a reminder, a feedback question): the worker queues it when due.

    Kept apart from the outbox, whose rows go out in order per person: a reminder for next
    week must not hold back today's messages.
    """

    __tablename__ = "scheduled_push"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id"),
        Index("ix_scheduled_push_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What to send, e.g. workshop.remind.24h; the subject is the booking.
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipRow(Base):
    """A parenting tip from the library, in both languages."""

    __tablename__ = "tip"

    # The library's own id, so that importing the file again updates the same tips.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), index=True)
    # Child age band in months; both empty for a tip about the parent's own well-being.
    min_months: Mapped[int | None] = mapped_column(Integer)
    max_months: Mapped[int | None] = mapped_column(Integer)
    text_zh: Mapped[str] = mapped_column(String(1000))
    text_en: Mapped[str] = mapped_column(String(1000))
    follow_up_zh: Mapped[str] = mapped_column(String(500), default="")
    follow_up_en: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TipSubscriptionRow(Base):
    """A person's tips: how often, at what local hour, and when the next one is due."""

    __tablename__ = "tip_subscription"
    __table_args__ = (Index("ix_tip_subscription_due", "active", "next_at"),)

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    # daily, twice_weekly or weekly
    frequency: Mapped[str] = mapped_column(String(16))
    hour: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TipDeliveryRow(Base):
    """A tip sent to a person (on schedule or asked for), and whether it helped."""

    __tablename__ = "tip_delivery"
    __table_args__ = (Index("ix_tip_delivery_person", "person_id", "tip_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    tip_id: Mapped[str] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    # scheduled or asked
    kind: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None] = mapped_column()


class ProcessedInboundRow(Base):
    """An inbound message already handled, with the answer it got."""

    __tablename__ = "processed_inbound"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RoleRow(Base):
    """A staff role; `factory_id` is the scope, empty for programme admins."""

    __tablename__ = "role"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "factory_id"),
        # NULLs are distinct in unique constraints, so unscoped roles need their own index.
        Index(
            "uq_role_unscoped",
            "person_id",
            "role",
            unique=True,
            sqlite_where=text("factory_id IS NULL"),
            postgresql_where=text("factory_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafeguardingAlertRow(Base):
    """A message that matched a safeguarding phrase: who, when, where, which kind; no text."""

    __tablename__ = "safeguarding_alert"
    __table_args__ = (Index("ix_safeguarding_alert_person", "person_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory.id", ondelete="SET NULL"), index=True
    )
    # child (a child may be in danger) or crisis (the worker may be)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # How many staff pushes went out: none when one went out for the same kind shortly before.
    alerted: Mapped[int] = mapped_column(Integer, default=0)


class AuditEventRow(Base):
    """Who did what to which record, for accountability; no message texts."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32), default="")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SignedRequestRow(Base):
    """A signed (timestamp, nonce) pair a channel used, bound to the body it first came with.

    Kept for the clock window in which the pair's signature is accepted, and then deleted.
    """

    __tablename__ = "signed_request"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboundUpdateRow(Base):
    """A channel update stored before it is confirmed to the channel, until it is handled.

    Polling confirms an update to Telegram only after this row is committed, and a webhook
    answers 200 only then; a crash leaves the row here, and it is handled after the restart.
    """

    __tablename__ = "inbound_update"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # A chat's updates still to answer, read with every update where replicas share
        # the work: small whatever the table holds, and the plan obvious even before the
        # table's statistics catch up with a burst.
        Index(
            "ix_inbound_update_pending",
            "channel",
            "chat_key",
            "id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    # Updates with the same key are handled one at a time, in the order they arrived.
    chat_key: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(index=True)


class BroadcastRow(Base):
    """A message staff send to many people at once, now or at a chosen time."""

    __tablename__ = "broadcast"
    __table_args__ = (Index("ix_broadcast_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    text_zh: Mapped[str] = mapped_column(String(2000), default="")
    text_en: Mapped[str] = mapped_column(String(2000), default="")
    # Who gets it: {"kind": "factories", "ids": [...]}, season, workshop or everyone.
    audience: Mapped[dict[str, Any]] = mapped_column()
    # scheduled, sending, sent or cancelled
    status: Mapped[str] = mapped_column(String(16))
    send_at: Mapped[datetime] = mapped_column()
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()


class OutboxRow(Base):
    """A message to push later; the worker claims, sends and settles it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "channel", "recipient", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One logical message, one row: enqueueing the same key again does nothing.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The broadcast this push belongs to, for its progress and delivery report.
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class ApiTokenRow(Base):
    """A channel's access token, fetched by one process and shared by all of them.

    WeChat allows one live access token per account: each fetch retires the last one, so
    replicas must not each fetch their own. `refreshing_until` is the lease of the process
    fetching the next one.
    """

    __tablename__ = "api_token"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # WeChat asks for room for at least 512 characters.
    token: Mapped[str | None] = mapped_column(String(1024))
    # When to fetch a new one: a few minutes before the channel's own expiry.
    expires_at: Mapped[datetime | None] = mapped_column()
    refreshing_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
