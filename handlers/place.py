"""How to get there, for a season or a workshop: asked once, then in English if need be.

A coordinator types the place once. Typed as "中文 / English" it is split in two (the way
the migration split the places written before); typed in Chinese alone, the English is
asked next, with a button to skip it; typed in English alone, it serves readers of both.
"""

from __future__ import annotations

import unicodedata

from ffs_bot.errors import InvalidInput
from ffs_bot.messages import Choice
from ffs_bot.model import Bilingual, has_cjk
from ffs_bot.services import seasons
from handlers.context import Context

__all__ = [
    "PLACE",
    "PLACE_EN",
    "both",
    "english_question",
    "read_english",
    "read_place",
    "skip",
    "with_english",
]

PLACE = "place"
# The English asked after a Chinese place typed without it.
PLACE_EN = "place_en"


def with_english(fields: tuple[str, ...]) -> tuple[str, ...]:
    """A form's fields in the order asked: the place in English after the place."""
    return tuple(
        f for field in fields for f in ((field, PLACE_EN) if field == PLACE else (field,))
    )


def _none(text: str) -> bool:
    return unicodedata.normalize("NFKC", text).strip() in ("-", "—")


def read_place(text: str) -> dict[str, str]:
    """The place as typed, "" for none; with its English when that need not be asked.

    Raises:
        InvalidInput: "place" when either language is too long.
    """
    # Typed words are kept as typed, Chinese punctuation (，：) included.
    place = seasons.clean_place(Bilingual() if _none(text) else Bilingual.split(text))
    found = {PLACE: place.zh}
    if place.en or not has_cjk(place.zh):
        found[PLACE_EN] = place.en
    return found


def read_english(text: str) -> str:
    """How to get there in English as typed, "" for none.

    Raises:
        InvalidInput: "place" when it is too long.
    """
    return "" if _none(text) else seasons.clean_place(Bilingual(en=text)).en


def english_question(ctx: Context) -> str:
    """Ask for how to get there in English, which readers of English see instead."""
    return ctx._(
        "And in English, for people who read English? For example: Building 3, 2nd floor. "
        "Or tap Skip."
    )


def skip(ctx: Context, payload: str) -> Choice:
    """The button that leaves the place without its English."""
    return Choice(ctx._("Skip"), payload)


def both(values: dict[str, object]) -> Bilingual:
    """The place read into a form's values, in both languages."""
    if PLACE_EN not in values:
        raise InvalidInput(PLACE_EN)
    return Bilingual(str(values[PLACE]), str(values[PLACE_EN]))
