"""Safeguarding phrases: the default list, normalisation, ignored expressions, own lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffs_bot.safeguarding import Concern, PhraseList, load_phrases

CHILD, CRISIS = Concern.CHILD, Concern.CRISIS


@pytest.fixture(scope="module")
def phrases() -> PhraseList:
    return load_phrases()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我想死", [CRISIS]),
        ("我 想 死", [CRISIS]),  # spaces between Chinese characters
        ("我想\u200b死", [CRISIS]),  # an invisible space
        ("真的不想活了", [CRISIS]),
        ("I want to KILL myself!!", [CRISIS]),
        ("ＳＵＩＣＩＤＥ", [CRISIS]),  # full-width letters
        ("I don’t want to live", [CRISIS]),  # a phone's apostrophe
        ("他喝醉了就打孩子", [CHILD]),
        ("My child is missing", [CHILD]),
        ("self-harm", [CHILD]),
        ("孩子离家出走，我想死", [CHILD, CRISIS]),
        ("想死你了宝贝", []),  # "I miss you so much"
        ("想死你了，可我真的想死", [CRISIS]),  # ignoring one use leaves the other
        ("孩子被打扰了", []),
        ("abusers of the system", []),  # whole English words only
        ("菜单", []),
        ("", []),
    ],
)
def test_default_list_matches(phrases: PhraseList, text: str, expected: list[Concern]) -> None:
    assert phrases.match(text) == expected


def test_an_own_list_replaces_the_default(tmp_path: Path) -> None:
    own = tmp_path / "phrases.yaml"
    own.write_text("crisis:\n  - 很绝望\n  - give up\nignore:\n  - 不很绝望\n", encoding="utf-8")
    phrases = load_phrases(own)
    assert phrases.match("我 很 绝望") == [CRISIS]
    assert phrases.match("I give up") == [CRISIS]
    assert phrases.match("我想死") == []


@pytest.mark.parametrize(
    "content",
    [
        "",
        "- a list\n",
        "crisis: 想死\n",
        "danger:\n  - x\n",
        "crisis:\n  - '  '\n",
        "crisis:\n  - '!!'\n",
        "crisis: [\n",
    ],
)
def test_a_bad_file_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_phrases(bad)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_phrases(tmp_path / "nowhere.yaml")
