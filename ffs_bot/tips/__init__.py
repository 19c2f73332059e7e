"""The parenting tip library: a YAML file of bilingual tips, read with their line numbers.

Each entry has an `id`, a `topic`, `ages` (child age in months as `min-max`, or `parent` for
the parent's own well-being), `zh` and `en` texts and an optional `follow_up` (`zh`, `en`).
A bad entry is reported by its id and line and left out; the good ones are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

import yaml

from ffs_bot.i18n import N_

__all__ = [
    "MAX_TIP_CHARS",
    "TOPICS",
    "TOPIC_NAMES",
    "LibraryError",
    "TipEntry",
    "parse_library",
    "starter_library",
]

TOPICS = (
    "keeping-close",
    "summer-together",
    "safety",
    "school",
    "emotions",
    "parent-wellbeing",
)
# What staff read for each topic: the keys are the library's, not words for people.
TOPIC_NAMES = {
    "keeping-close": N_("Staying close from far away"),
    "summer-together": N_("Summer together"),
    "safety": N_("Safety"),
    "school": N_("School"),
    "emotions": N_("Feelings"),
    "parent-wellbeing": N_("Looking after yourself"),
}
# About 300 Chinese characters, as the programme asks; English runs longer for the same tip.
MAX_TIP_CHARS = {"zh": 300, "en": 1000}
MAX_FOLLOW_UP = 200
MAX_MONTHS = 18 * 12
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_AGES = re.compile(r"(\d{1,3})\s*-\s*(\d{1,3})")


@dataclass(frozen=True, slots=True)
class TipEntry:
    """One tip as the library gives it."""

    id: str
    topic: str
    min_months: int | None
    max_months: int | None
    text_zh: str
    text_en: str
    follow_up_zh: str = ""
    follow_up_en: str = ""

    @property
    def for_parent(self) -> bool:
        """Whether the tip is about the parent's own well-being, not a child of some age."""
        return self.min_months is None


@dataclass(frozen=True, slots=True)
class LibraryError:
    """An entry left out, and why."""

    line: int
    tip_id: str
    problem: str


def _text(value: object, limit: int, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is missing")
    text = value.strip()
    if len(text) > limit:
        raise ValueError(f"{name} is {len(text)} characters; at most {limit}")
    return text


def _entry(data: object) -> TipEntry:
    if not isinstance(data, dict):
        raise ValueError("an entry must be a mapping with id, topic, ages, zh and en")
    tip_id = str(data.get("id", ""))
    if not _ID.fullmatch(tip_id):
        raise ValueError("id must be lowercase letters, digits and hyphens (up to 64)")
    topic = data.get("topic")
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {', '.join(TOPICS)}")
    ages = str(data.get("ages", "")).strip()
    if ages == "parent":
        low: int | None = None
        high: int | None = None
    else:
        match = _AGES.fullmatch(ages)
        if not match or not int(match[1]) <= int(match[2]) <= MAX_MONTHS:
            raise ValueError(f"ages must be 'parent' or months 'min-max' from 0 to {MAX_MONTHS}")
        low, high = int(match[1]), int(match[2])
    follow = data.get("follow_up") or {}
    if not isinstance(follow, dict):
        raise ValueError("follow_up must have zh and en")
    return TipEntry(
        id=tip_id,
        topic=str(topic),
        min_months=low,
        max_months=high,
        text_zh=_text(data.get("zh"), MAX_TIP_CHARS["zh"], "zh"),
        text_en=_text(data.get("en"), MAX_TIP_CHARS["en"], "en"),
        follow_up_zh=_text(follow["zh"], MAX_FOLLOW_UP, "follow_up.zh") if follow else "",
        follow_up_en=_text(follow["en"], MAX_FOLLOW_UP, "follow_up.en") if follow else "",
    )


def parse_library(text: str) -> tuple[list[TipEntry], list[LibraryError]]:
    """Read a tip library; return the good entries and what was wrong with the others.

    Raises:
        ValueError: the file is not YAML, or not a list of entries.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ValueError(f"not a YAML file (line {line}): {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not a YAML file: {type(exc).__name__}") from None
    if root is None:
        return [], []
    if not isinstance(root, yaml.SequenceNode):
        raise ValueError("the library must be a list of tips")
    good: list[TipEntry] = []
    errors: list[LibraryError] = []
    seen: set[str] = set()
    loader = yaml.SafeLoader("")
    for node in root.value:
        line = node.start_mark.line + 1
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            errors.append(LibraryError(line, "?", f"cannot be read: {type(exc).__name__}"))
            continue
        tip_id = str(data.get("id", "?")) if isinstance(data, dict) else "?"
        try:
            entry = _entry(data)
        except (ValueError, KeyError) as exc:
            errors.append(LibraryError(line, tip_id, str(exc).strip("'")))
            continue
        if entry.id in seen:
            errors.append(LibraryError(line, entry.id, "the same id came earlier in the file"))
            continue
        seen.add(entry.id)
        good.append(entry)
    loader.dispose()
    return good, errors


def starter_library() -> str:
    """The text of the tip library that ships with the bot."""
    return files("ffs_bot.tips").joinpath("starter.yaml").read_text(encoding="utf-8")
