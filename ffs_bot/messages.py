"""What channels hand to the conversation engine, and what it hands back."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Attachment",
    "Choice",
    "Inbound",
    "Reply",
    "numbered_text",
    "replies_from_json",
    "replies_to_json",
]


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message or button press from a person on a channel."""

    channel: str
    user_id: str
    text: str | None = None
    payload: str | None = None
    language_hint: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: a translated label and a short, language-free payload."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply (an exported roster, say)."""

    filename: str
    content: bytes
    mime: str

    def to_json(self) -> dict[str, str]:
        """Return the file as JSON-ready data, its bytes in base64."""
        return {
            "filename": self.filename,
            "mime": self.mime,
            "content": base64.b64encode(self.content).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        """Rebuild a file stored by `to_json`."""
        return cls(str(data["filename"]), base64.b64decode(data["content"]), str(data["mime"]))


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send back: text, optional choices, and optionally a file.

    A `brief` reply is a short notice (a stale button, say) that a channel may show as a
    passing pop-up instead of a message. With an attachment, the text is the file's caption.
    An `edit` reply to a button press replaces the pressed message where the channel can
    (figures refreshed in place), and is sent as a new message where it cannot. A reply
    that asks for a number has its choices shown without numbers on text channels, so a
    typed number is the answer and not a choice.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    brief: bool = False
    attachment: Attachment | None = None
    edit: bool = False
    numbered: bool = True

    def to_json(self) -> dict[str, Any]:
        """Return the reply as plain JSON-ready data."""
        data: dict[str, Any] = {
            "text": self.text,
            "choices": [{"label": c.label, "payload": c.payload} for c in self.choices],
        }
        if self.brief:
            data["brief"] = True
        if self.attachment is not None:
            data["attachment"] = self.attachment.to_json()
        if self.edit:
            data["edit"] = True
        if not self.numbered:
            data["numbered"] = False
        return data


def numbered_text(reply: Reply, indent: str = "") -> str:
    """Show a reply as plain text with its choices numbered, for channels without buttons."""
    lines = [reply.text]
    if reply.numbered:
        lines.extend(f"{indent}{i}. {c.label}" for i, c in enumerate(reply.choices, 1))
    else:
        # Bracketed words are what text-message services ask people to send back.
        lines.extend(f"{indent}【{c.label}】" for c in reply.choices)
    return "\n".join(lines)


def replies_to_json(replies: list[Reply]) -> list[dict[str, Any]]:
    """Return replies as JSON-ready data, for storage and the console's JSON lines."""
    return [reply.to_json() for reply in replies]


def replies_from_json(data: list[dict[str, Any]]) -> list[Reply]:
    """Rebuild replies stored by `replies_to_json`."""
    return [
        Reply(
            text=str(item["text"]),
            choices=tuple(Choice(str(c["label"]), str(c["payload"])) for c in item["choices"]),
            brief=bool(item.get("brief", False)),
            edit=bool(item.get("edit", False)),
            numbered=bool(item.get("numbered", True)),
            attachment=(
                Attachment.from_json(item["attachment"]) if item.get("attachment") else None
            ),
        )
        for item in data
    ]
