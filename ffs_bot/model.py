"""Domain records the services hand out: frozen dataclasses, no database types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "NO_TEXT",
    "Bilingual",
    "Channel",
    "Child",
    "ConversationState",
    "Factory",
    "Gender",
    "Identity",
    "Person",
    "PersonStatus",
    "Relationship",
    "RoleGrant",
    "RoleName",
    "age_in_months",
    "has_cjk",
]

# Han ideographs (with extension A and the compatibility block) and CJK punctuation.
_CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60]")


def has_cjk(text: str) -> bool:
    """Whether the text has a Chinese character or Chinese punctuation in it."""
    return _CJK.search(text) is not None


@dataclass(frozen=True, slots=True)
class Bilingual:
    """A short text staff wrote in Chinese, in English or both; each reader sees theirs."""

    zh: str = ""
    en: str = ""

    def __bool__(self) -> bool:
        return bool(self.zh or self.en)

    def pick(self, language: str) -> str:
        """The text in `language` (English for "en", else Chinese), or the other when empty."""
        first, other = (self.en, self.zh) if language == "en" else (self.zh, self.en)
        return first or other

    @classmethod
    def split(cls, text: str) -> Bilingual:
        """Read "中文 / English" typed in one line: the English after the last " / " apart.

        The English part is taken only when it has no Chinese in it and the part before has
        some; anything else stays whole in `zh`, which readers of both languages fall back to.
        Migration 0016 split the old one-column places by a frozen copy of this rule.
        """
        text = " ".join(text.split())
        first, slash, last = text.rpartition(" / ")
        if slash and has_cjk(first) and not has_cjk(last) and last.strip():
            return cls(first.strip(), last.strip())
        return cls(text, "")


# Nothing written in either language: the default where a text may be left out.
NO_TEXT = Bilingual()


class Channel(StrEnum):
    """Where a person talks to us."""

    CONSOLE = "console"
    TELEGRAM = "telegram"
    WECHAT = "wechat"


class PersonStatus(StrEnum):
    """Whether pushes may reach a person."""

    ACTIVE = "active"
    STOPPED = "stopped"
    # Known only because a staff role was given to their account: they never wrote to us,
    # and nothing is pushed to a chat that did not write first.
    SILENT = "silent"


class RoleName(StrEnum):
    """Staff roles; coordinators and sponsor viewers are scoped to factories."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    SPONSOR = "sponsor"


class Gender(StrEnum):
    """A child's gender, when the family chooses to say."""

    GIRL = "girl"
    BOY = "boy"


def age_in_months(birth_year: int, birth_month: int, year: int, month: int) -> int:
    """A child's age in whole months in the given month."""
    return (year - birth_year) * 12 + (month - birth_month)


class Relationship(StrEnum):
    """How a guardian is related to a child."""

    MOTHER = "mother"
    FATHER = "father"
    GRANDPARENT = "grandparent"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Child:
    """A child as one of their guardians sees it."""

    id: int
    name: str
    birth_year: int
    birth_month: int
    gender: Gender | None
    health_notes: str | None
    relationship: Relationship
    guardians: int

    def age_in_months(self, year: int, month: int) -> int:
        """The child's age in whole months in the given month."""
        return age_in_months(self.birth_year, self.birth_month, year, month)


@dataclass(frozen=True, slots=True)
class Factory:
    """A factory that may host a Family-Friendly Space."""

    id: int
    code: str
    name_zh: str
    name_en: str
    city: str
    timezone: str

    def name(self, language: str) -> str:
        """Return the factory's name in `language` (Chinese unless English is asked for)."""
        return self.name_en if language == "en" else self.name_zh


@dataclass(frozen=True, slots=True)
class Person:
    """A worker or staff member, whatever channel they use."""

    id: int
    display_name: str | None
    language: str | None
    factory_id: int | None
    status: PersonStatus
    onboarded_at: datetime | None
    # The privacy notice version the person last agreed to, None before they agreed.
    privacy_version: str | None = None

    @property
    def onboarded(self) -> bool:
        """Whether the person has finished the first-contact conversation."""
        return self.onboarded_at is not None


@dataclass(frozen=True, slots=True)
class Identity:
    """One person's account on one channel."""

    id: int
    person_id: int
    channel: str
    external_user_id: str
    language_hint: str | None


@dataclass(slots=True)
class ConversationState:
    """Where a person is in a conversation; saved with each step's data."""

    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    choices: list[dict[str, str]] = field(default_factory=list)
    # The rate limit's one-minute window: when it began and the messages counted in it.
    window_started_at: datetime | None = None
    window_count: int = 0


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """A staff role held by a person, with its factory scope (none for admins)."""

    person_id: int
    role: RoleName
    factory_code: str | None
    channel: str
    external_user_id: str
