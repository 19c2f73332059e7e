"""The account's custom menu: the main sections, one tap away from any point of a chat.

Each button is a CLICK whose key is a `go:<section>` payload (or `menu`), which the
conversation engine understands from any step. WeChat allows 3 buttons of up to 16 bytes,
each with up to 5 sub-buttons of up to 60 bytes.
"""

from __future__ import annotations

from typing import Any

from ffs_bot.i18n import N_, Translator
from handlers.menu import JUMP_PREFIX, MENU_PAYLOAD, TIPS, WORKSHOPS

__all__ = ["MAX_BUTTONS", "MAX_SUB_BUTTONS", "MENU", "custom_menu"]

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
MAX_BUTTON_BYTES, MAX_SUB_BUTTON_BYTES = 16, 60

Button = tuple[str, str]  # (label msgid, payload)

MENU: tuple[Button | tuple[str, tuple[Button, ...]], ...] = (
    (N_("Register a child"), f"{JUMP_PREFIX}summer"),
    (N_("Parent workshops"), f"{JUMP_PREFIX}{WORKSHOPS}"),
    (
        N_("More"),
        (
            (N_("Parenting tips"), f"{JUMP_PREFIX}{TIPS}"),
            (N_("My children"), f"{JUMP_PREFIX}children"),
            (N_("My details"), f"{JUMP_PREFIX}account"),
            (N_("Main menu"), MENU_PAYLOAD),
        ),
    ),
)


def _label(text: str, limit: int) -> str:
    if len(text.encode("utf-8")) > limit:
        raise ValueError(f"menu label {text!r} is over WeChat's {limit} bytes")
    return text


def custom_menu(translator: Translator) -> dict[str, Any]:
    """The menu in `translator`'s language, as `/cgi-bin/menu/create` takes it.

    Raises:
        ValueError: a label is longer than WeChat allows.
    """
    _ = translator._
    buttons: list[dict[str, Any]] = []
    for label, target in MENU:
        if isinstance(target, str):
            name = _label(_(label), MAX_BUTTON_BYTES)
            buttons.append({"type": "click", "name": name, "key": target})
        else:
            subs = [
                {"type": "click", "name": _label(_(sub), MAX_SUB_BUTTON_BYTES), "key": key}
                for sub, key in target
            ]
            buttons.append({"name": _label(_(label), MAX_BUTTON_BYTES), "sub_button": subs})
    return {"button": buttons}
