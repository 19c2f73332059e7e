"""One word per thing: the catalogs against the glossary in locales/glossary.csv."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parents[2] / "locales"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@dataclass(frozen=True)
class Term:
    """A thing, the one word each language uses for it, and the words it must not."""

    concept: str
    english_match: re.Pattern[str]
    zh: str
    zh_forbidden: tuple[str, ...]
    english_forbidden: tuple[re.Pattern[str], ...]


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part for part in cell.split("|") if part)


def _glossary() -> list[Term]:
    with (LOCALES / "glossary.csv").open(encoding="utf-8", newline="") as f:
        return [
            Term(
                row["concept"],
                re.compile(row["english_match"]),
                row["zh_Hans"],
                _split(row["zh_forbidden"]),
                tuple(re.compile(p) for p in _split(row["english_forbidden"])),
            )
            for row in csv.DictReader(f)
        ]


def _messages() -> list[tuple[str, str]]:
    """(msgid, msgstr) of the Chinese catalog, placeholders taken out of both."""
    with (LOCALES / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="zh_Hans")
    found = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            found.append((PLACEHOLDER.sub("", ids[0]), PLACEHOLDER.sub("", string)))
    return found


TERMS = _glossary()


def test_the_glossary_names_each_term_once_and_forbids_none_of_its_own_terms() -> None:
    chosen = [term.zh for term in TERMS]
    assert len(chosen) == len(set(chosen))
    for term in TERMS:
        for other in TERMS:
            assert not any(bad in other.zh for bad in term.zh_forbidden), (term, other)


@pytest.mark.parametrize("term", TERMS, ids=lambda term: term.concept)
def test_every_chinese_message_about_a_thing_uses_its_one_word(term: Term) -> None:
    wrong = [
        (msgid, msgstr)
        for msgid, msgstr in _messages()
        if term.english_match.search(msgid) and term.zh not in msgstr
    ]
    assert wrong == [], f"these should say {term.zh}"


@pytest.mark.parametrize("term", TERMS, ids=lambda term: term.concept)
def test_no_message_uses_a_forbidden_word_for_a_thing(term: Term) -> None:
    said = [
        (msgid, msgstr)
        for msgid, msgstr in _messages()
        if any(bad in msgstr for bad in term.zh_forbidden)
        or any(bad.search(msgid) for bad in term.english_forbidden)
    ]
    assert said == [], f"{term.concept}: say {term.zh}"
