"""Reading what people type: cleaning, commands, and picking a choice by number or label."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MAX_INPUT_CHARS",
    "Command",
    "ParsedCommand",
    "clean_text",
    "match_choice",
    "parse_command",
]

# Nothing anyone needs to tell us is this long; longer text is refused, not cut.
MAX_INPUT_CHARS = 1000


class Command(StrEnum):
    """Words that work from any point of any conversation."""

    START = "start"
    MENU = "menu"
    HELP = "help"
    LANGUAGE = "language"
    CANCEL = "cancel"


_WORDS: dict[str, Command] = {
    "menu": Command.MENU,
    "菜单": Command.MENU,
    "主菜单": Command.MENU,
    "help": Command.HELP,
    "帮助": Command.HELP,
    "?": Command.HELP,
    "language": Command.LANGUAGE,
    "lang": Command.LANGUAGE,
    "语言": Command.LANGUAGE,
    "cancel": Command.CANCEL,
    "取消": Command.CANCEL,
    "start": Command.START,
}


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command and what followed it (`/start f-SZ01` has the argument `f-SZ01`)."""

    command: Command
    argument: str


def clean_text(text: str) -> str:
    """Drop what no database or person wants: control characters and broken surrogates."""
    # Lone surrogates (possible in JSON input) cannot be stored as UTF-8: category Cs.
    return "".join(
        char for char in text if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs")
    ).strip()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def parse_command(text: str) -> ParsedCommand | None:
    """Recognise a whole-message command: `/menu`, `menu`, `菜单`, `/start f-SZ01`, ..."""
    folded = _fold(text)
    slash = folded.startswith("/")
    word, _, argument = folded.removeprefix("/").partition(" ")
    # Telegram appends the bot's name in groups: /menu@ffs_bot.
    word = word.split("@", 1)[0]
    command = _WORDS.get(word)
    if command is None:
        return None
    if command is Command.START:
        # "start" is an ordinary word; only the slash form starts over.
        if not slash:
            return None
        raw_argument = text.strip().partition(" ")[2].strip()
        return ParsedCommand(command, raw_argument)
    if argument.strip():
        return None
    return ParsedCommand(command, "")


def match_choice(choices: list[dict[str, str]], text: str) -> str | None:
    """Return the payload of the choice typed by its number (1, 2, ...) or its label.

    Choices stored with `"by": "label"` were shown without numbers (their question asks for
    a number), so typed digits never pick them.
    """
    folded = _fold(text)
    if folded.isdecimal() and len(folded) <= 3:
        numbered = [choice for choice in choices if choice.get("by") != "label"]
        index = int(folded)
        if 1 <= index <= len(numbered):
            return numbered[index - 1]["payload"]
        return None
    for choice in choices:
        if _fold(choice["label"]) == folded:
            return choice["payload"]
    return None
