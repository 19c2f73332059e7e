"""The WeChat custom menu: in Chinese, within WeChat's limits, each key a jump the engine knows."""

from __future__ import annotations

import gettext

import pytest

from bot.wechat.menu import MAX_BUTTONS, MAX_SUB_BUTTONS, custom_menu
from ffs_bot.i18n import LANGUAGES, Translator
from handlers.menu import JUMP_PREFIX, SECTIONS


def clicks(menu: dict) -> list[dict]:
    return [sub for b in menu["button"] for sub in b.get("sub_button", [b])]


def test_the_chinese_menu_opens_the_sections_of_the_main_menu(
    translators: dict[str, Translator],
) -> None:
    menu = custom_menu(translators["zh_Hans"])
    assert [b["name"] for b in menu["button"]] == ["孩子报名", "家长课堂", "更多"]
    assert {c["name"]: c["key"] for c in clicks(menu)} == {
        "孩子报名": "go:summer",
        "家长课堂": "go:ws",
        "育儿小贴士": "go:tips",
        "我的孩子": "go:children",
        "我的资料": "go:account",
        "主菜单": "menu",
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_fits_wechat_limits_and_uses_known_keys(
    translators: dict[str, Translator], language: str
) -> None:
    menu = custom_menu(translators[language])
    assert len(menu["button"]) <= MAX_BUTTONS
    for button in menu["button"]:
        assert len(button["name"].encode()) <= 16
        assert len(button.get("sub_button", [])) <= MAX_SUB_BUTTONS
        for sub in button.get("sub_button", []):
            assert len(sub["name"].encode()) <= 60
    for click in clicks(menu):
        assert click["type"] == "click"
        assert click["key"] == "menu" or click["key"].removeprefix(JUMP_PREFIX) in SECTIONS


class Wordy(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return message * 3


def test_a_translation_too_long_for_a_button_is_refused() -> None:
    with pytest.raises(ValueError, match="over WeChat's 16 bytes"):
        custom_menu(Translator("en", Wordy()))
