"""Record ids as they come from outside (buttons, the command line): read before use."""

from __future__ import annotations

__all__ = ["MAX_ID", "record_id"]

# Our ids are INTEGER columns, 31 bits on PostgreSQL: a bigger number names no row, and sent
# to the database it is an error (PostgreSQL's out of range, SQLite's too large), not "none".
MAX_ID = 2**31 - 1


def record_id(text: str) -> int | None:
    """The id `text` names (ASCII digits, 1 to MAX_ID), or None when it names no record."""
    if not text.isascii() or not text.isdecimal() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
