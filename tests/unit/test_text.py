"""Reading typed text: commands, choices by number or label, cleaning."""

from __future__ import annotations

import pytest

from handlers.text import Command, clean_text, match_choice, parse_command

CHOICES = [
    {"label": "中文", "payload": "lang:zh_Hans"},
    {"label": "English", "payload": "lang:en"},
]


@pytest.mark.parametrize(
    ("text", "command", "argument"),
    [
        ("/start", Command.START, ""),
        ("/start f-SZ01", Command.START, "f-SZ01"),
        ("/start@ffs_bot f-SZ01", Command.START, "f-SZ01"),
        ("menu", Command.MENU, ""),
        ("/menu", Command.MENU, ""),
        (" 菜单 ", Command.MENU, ""),
        ("MENU", Command.MENU, ""),
        ("帮助", Command.HELP, ""),
        ("/help@ffs_bot", Command.HELP, ""),
        ("语言", Command.LANGUAGE, ""),
        ("/language", Command.LANGUAGE, ""),
        ("取消", Command.CANCEL, ""),
        ("Cancel", Command.CANCEL, ""),
    ],
)
def test_commands_are_recognised_in_every_form(text: str, command: Command, argument: str) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    assert (parsed.command, parsed.argument) == (command, argument)


@pytest.mark.parametrize(
    "text", ["start", "help me with my child", "menu please", "菜单呢", "/nope"]
)
def test_sentences_and_unknown_words_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("1", "lang:zh_Hans"),
        ("2", "lang:en"),
        ("２", "lang:en"),
        ("english", "lang:en"),
        (" 中文 ", "lang:zh_Hans"),
        ("3", None),
        ("0", None),
        ("-1", None),
        ("٢", "lang:en"),
        ("99999999999999999999", None),
        ("eng", None),
    ],
)
def test_a_choice_is_picked_by_its_number_or_label(text: str, payload: str | None) -> None:
    assert match_choice(CHOICES, text) == payload


def test_no_choices_means_numbers_are_plain_text() -> None:
    assert match_choice([], "1") is None


def test_choices_shown_without_numbers_are_picked_by_word_and_leave_numbers_to_the_step() -> None:
    by_label = [{"label": "Cancel", "payload": "cancel", "by": "label"}]
    assert match_choice(by_label, "1") is None
    assert match_choice(by_label, "１") is None
    assert match_choice(by_label, " cancel ") == "cancel"
    mixed = [*by_label, {"label": "Back", "payload": "back"}]
    assert match_choice(mixed, "1") == "back"


def test_clean_text_drops_control_characters_and_broken_surrogates() -> None:
    assert clean_text(" a\x00b\x1bc\ud800d\n e ") == "abcd\n e"
    assert clean_text("\udc80") == ""  # not a "?", which would read as the help command
    assert clean_text("👨‍👩‍👧") == "👨‍👩‍👧"  # joiners inside emoji stay
