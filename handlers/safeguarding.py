"""What a person is told when their words may mean they or a child are in danger."""

from __future__ import annotations

from ffs_bot.i18n import Translator

__all__ = ["helpline"]


def helpline(t: Translator, *, staff_told: bool) -> str:
    """The helpline numbers in China, short and kind; says so when staff were alerted."""
    text = t._(
        "If you or a child are in danger or having a very hard time, you can get help at any "
        "hour:\n"
        "110 police, in an emergency\n"
        "120 ambulance\n"
        "12355 help line for children and young people\n"
        "12356 psychological help line\n"
        "You are not alone."
    )
    if staff_told:
        text += "\n" + t._("We have let the programme staff know, so they can check on you.")
    return text
