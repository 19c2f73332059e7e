"""Where this machine keeps a font with Chinese glyphs: report charts need one, nothing else.

matplotlib's own fonts have no Chinese glyphs and would draw factory names as empty boxes, so a
chart is drawn in one of the fonts below or not at all. A workbook, a CSV file or a chat never
needs a font.

Standard library only, so `make` can ask before the virtual environment exists:
`python3 ffs_bot/fonts.py` prints the font it would use, or says what to install and exits 1;
`--package` prints the Debian package that provides one.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CJK_FONT_PACKAGE", "INSTALL_HINT", "CjkFontMissing", "cjk_font_file"]

# The Debian package `make` installs when it runs as root; it is small (5 MB).
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
INSTALL_HINT = (
    f"install one with 'sudo apt-get install {CJK_FONT_PACKAGE}' (Debian, Ubuntu; or "
    "fonts-noto-cjk), or put Noto Sans CJK SC in ~/.local/share/fonts"
)
# Font files with Simplified Chinese glyphs, best first, as their packages name them.
CJK_FONT_NAMES = (
    "wqy-microhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "SourceHanSansSC-Regular.otf",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
)
# Where Debian puts them first (no search needed), then the usual font folders.
DEBIAN_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
# The usual font folders; `~` is the user's, read when searched, not when imported (a
# process run under a uid with no home must still start).
FONT_FOLDERS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "~/Library/Fonts",
)


class CjkFontMissing(FileNotFoundError):
    """No font with Chinese glyphs is installed, so a chart would show boxes."""


def _search(folders: Iterable[str], names: tuple[str, ...]) -> Path | None:
    found: dict[str, Path] = {}
    for folder in folders:
        for root, _dirs, files in os.walk(os.path.expanduser(folder)):
            for name in set(files).intersection(names):
                found.setdefault(name, Path(root) / name)
    return next((found[name] for name in names if name in found), None)


@functools.cache
def cjk_font_file() -> Path:
    """The file of an installed font with Chinese glyphs.

    Raises:
        CjkFontMissing: none is installed.
    """
    for path in DEBIAN_FILES:
        if path.is_file():
            return path
    found = _search(FONT_FOLDERS, CJK_FONT_NAMES)
    if found is None:
        raise CjkFontMissing(f"report charts need a font with Chinese glyphs: {INSTALL_HINT}")
    return found


def main(argv: list[str]) -> int:
    """Print the Chinese font charts would use, or what to install; exit 1 without one.

    With `--package`, print the Debian package that provides one.
    """
    if argv == ["--package"]:
        print(CJK_FONT_PACKAGE)
        return 0
    try:
        print(f"Chinese font for charts: {cjk_font_file()}")
    except CjkFontMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
