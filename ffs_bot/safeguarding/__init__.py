"""Safeguarding phrases: words that may mean a child is in danger or a worker is in crisis.

The default list is `phrases.yaml` beside this module; `FFS_SAFEGUARDING_PHRASES` names
another file of the same form. Every typed message is screened, so matching is a few
regular-expression searches over the message, normalised once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

__all__ = ["DEFAULT_PHRASES", "Concern", "PhraseList", "load_phrases"]

DEFAULT_PHRASES = Path(__file__).resolve().parent / "phrases.yaml"
_IGNORE = "ignore"
# Apostrophes as phones type them, so "don’t want to live" matches "don't want to live".
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


class Concern(StrEnum):
    """What a matched phrase may mean."""

    CHILD = "child"
    CRISIS = "crisis"


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def _compact(text: str) -> str:
    """The form Chinese is matched in: no spaces (or invisible characters) between words."""
    return "".join(
        char
        for char in _folded(text)
        if not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf")
    )


def _words(text: str) -> str:
    """The form English is matched in: words of letters, digits and ' between single spaces."""
    spaced = "".join(char if char.isalnum() or char == "'" else " " for char in _folded(text))
    return f" {' '.join(spaced.split())} "


def _is_chinese(phrase: str) -> bool:
    # Chinese (and Japanese, Korean) is written without spaces between words: match anywhere.
    return any(unicodedata.east_asian_width(char) in ("W", "F") for char in phrase)


def _form(phrase: str) -> str:
    """The phrase as it is matched: compact for Chinese, spaced words otherwise."""
    return _compact(phrase) if _is_chinese(phrase) else _words(phrase)


def _pattern(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    # Longest first, so the regular expression prefers "sexual abuse" to "abuse".
    return re.compile("|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True)))


@dataclass(frozen=True, slots=True)
class _Patterns:
    chinese: re.Pattern[str] | None
    words: re.Pattern[str] | None


def _patterns(phrases: Sequence[str]) -> _Patterns:
    return _Patterns(
        _pattern([_form(p) for p in phrases if _is_chinese(p)]),
        _pattern([_form(p) for p in phrases if not _is_chinese(p)]),
    )


class PhraseList:
    """Phrases by concern, ready to screen messages."""

    def __init__(
        self, phrases: Mapping[Concern, Sequence[str]], ignore: Sequence[str] = ()
    ) -> None:
        self._patterns = {concern: _patterns(items) for concern, items in phrases.items()}
        self._ignore = _patterns(ignore)

    def match(self, text: str) -> list[Concern]:
        """Return the concerns whose phrases the text contains, in the list's order."""
        compact, words = _compact(text), _words(text)
        if self._ignore.chinese is not None:
            compact = self._ignore.chinese.sub("|", compact)
        if self._ignore.words is not None:
            words = self._ignore.words.sub(" | ", words)
        found = []
        for concern, patterns in self._patterns.items():
            if (patterns.chinese is not None and patterns.chinese.search(compact)) or (
                patterns.words is not None and patterns.words.search(words)
            ):
                found.append(concern)
        return found


def load_phrases(path: Path | None = None) -> PhraseList:
    """Read a phrase file (the default list unless `path` is given).

    Raises:
        ValueError: the file is missing, not YAML, or not lists of phrases under `child`,
            `crisis` and optionally `ignore`.
    """
    source = path or DEFAULT_PHRASES
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"safeguarding phrases {source}: cannot read: {exc}") from exc
    allowed = {c.value for c in Concern} | {_IGNORE}
    if not isinstance(data, dict) or not set(data) <= allowed:
        raise ValueError(
            f"safeguarding phrases {source}: expected lists under {', '.join(sorted(allowed))}"
        )
    lists: dict[str, list[str]] = {}
    for key, items in data.items():
        if not isinstance(items, list) or not all(
            isinstance(item, str) and _form(item).strip() for item in items
        ):
            raise ValueError(f"safeguarding phrases {source}: {key} must list non-empty phrases")
        lists[key] = items
    phrases = {concern: lists.get(concern.value, []) for concern in Concern}
    if not any(phrases.values()):
        raise ValueError(f"safeguarding phrases {source}: no phrases")
    return PhraseList(phrases, lists.get(_IGNORE, []))
