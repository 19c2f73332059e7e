"""Replies as WeChat text messages: choices numbered, long text split at line ends."""

from __future__ import annotations

from ffs_bot.messages import Reply, numbered_text

__all__ = ["MAX_TEXT_BYTES", "split_text", "wechat_texts"]

# WeChat refuses text messages over 2,048 bytes (UTF-8); keep a margin.
MAX_TEXT_BYTES = 2000


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Cut `text` into pieces of at most `limit` bytes, at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while _size(line) > limit:
            # One line longer than a message: cut it by characters.
            cut = len(line.encode("utf-8")[:limit].decode("utf-8", "ignore"))
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if current and _size(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return pieces


def wechat_texts(replies: list[Reply], limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Render replies as few text messages as fit, in order, each within `limit` bytes."""
    messages: list[str] = []
    for reply in replies:
        for piece in split_text(numbered_text(reply), limit):
            joined = f"{messages[-1]}\n\n{piece}" if messages else piece
            if messages and _size(joined) <= limit:
                messages[-1] = joined
            else:
                messages.append(piece)
    return messages
