"""The console channel: chat in a terminal, or drive the bot with JSON lines."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from ffs_bot.delivery import Delivery, Outcome
from ffs_bot.files import private_dir, write_private
from ffs_bot.i18n import Translator, negotiate_language
from ffs_bot.messages import Attachment, Inbound, Reply, numbered_text, replies_to_json
from ffs_bot.model import Channel
from handlers.engine import ConversationEngine

__all__ = [
    "ConsoleSender",
    "inbound_from_json",
    "render_reply",
    "run_human",
    "run_jsonl",
    "save_attachment",
]

MAX_LINE_BYTES = 64 * 1024
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def render_reply(reply: Reply) -> str:
    """Show a reply as terminal text, its choices numbered."""
    return numbered_text(reply, indent="  ")


class ConsoleSender:
    """Shows pushes (a confirmed place, an offer) to the person at this terminal.

    Pushes to other console users wait: nobody else reads this terminal.
    """

    def __init__(self, user_id: str, stdout: IO[str]) -> None:
        self._user_id = user_id
        self._stdout = stdout

    async def send(self, recipient: str, replies: list[Reply], *, kind: str = "") -> Delivery:
        """Print the push if it is for this terminal's user."""
        if recipient != self._user_id:
            return Delivery(Outcome.RETRY, retry_after=3600, error="not at this terminal")
        for reply in replies:
            self._stdout.write(render_reply(reply) + "\n\n")
        return Delivery(Outcome.SENT)


def save_attachment(attachment: Attachment, directory: Path) -> Path:
    """Save a file the bot sent under `directory`, never overwriting one saved before."""
    private_dir(directory)
    # The name comes from our own code, but keep it to one plain file name all the same.
    name = Path(attachment.filename).name or "file"
    target = directory / name
    stem, suffix = target.stem, target.suffix
    n = 1
    while True:
        try:
            # Exports hold children's names and health notes: readable by us alone.
            write_private(target, attachment.content)
        except FileExistsError:
            n += 1
            target = directory / f"{stem}-{n}{suffix}"
            continue
        return target


def inbound_from_json(line: str, user_id: str, language_code: str | None) -> Inbound:
    """Turn a JSON line (`{"text": ...}` or `{"press": ...}`, optional `"id"`) into an Inbound.

    Raises:
        ValueError: the line is not such an object.
    """
    data: Any = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError('expected an object: {"text": "..."} or {"press": "..."}')
    text, press, message_id = data.get("text"), data.get("press"), data.get("id")
    if (text is None) == (press is None):
        raise ValueError('give exactly one of "text" and "press"')
    if not isinstance(text if press is None else press, str):
        raise ValueError('"text" and "press" take a string')
    if message_id is not None and (
        isinstance(message_id, bool)
        or not isinstance(message_id, str | int)
        or not MESSAGE_ID.fullmatch(str(message_id))
    ):
        raise ValueError('"id" takes a number or up to 64 letters, digits, "-", "_", ":" or "."')
    return Inbound(
        channel=Channel.CONSOLE.value,
        user_id=user_id,
        text=text,
        payload=press,
        language_hint=language_code,
        message_id=None if message_id is None else str(message_id),
    )


async def _read_line(stream: IO[bytes]) -> tuple[bytes, bool]:
    """Read one line; for an over-long one, skip its rest and say it was too long."""
    raw = await asyncio.to_thread(stream.readline, MAX_LINE_BYTES + 1)
    too_long = len(raw) > MAX_LINE_BYTES
    tail = raw
    while too_long and tail and not tail.endswith(b"\n"):
        tail = await asyncio.to_thread(stream.readline, MAX_LINE_BYTES + 1)
    return raw, too_long


async def run_jsonl(
    engine: ConversationEngine,
    user_id: str,
    language_code: str | None,
    stdin: IO[bytes],
    stdout: IO[str],
) -> None:
    """Answer each input line with exactly one output line, until end of input."""
    while True:
        raw, too_long = await _read_line(stdin)
        if not raw:
            break
        if too_long:
            out: dict[str, Any] = {"error": f"line longer than {MAX_LINE_BYTES} bytes"}
        else:
            try:
                inbound = inbound_from_json(raw.decode("utf-8", "replace"), user_id, language_code)
            except ValueError as exc:
                out = {"error": str(exc)}
            else:
                out = {"replies": replies_to_json(await engine.handle(inbound))}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()


async def run_human(
    engine: ConversationEngine,
    translators: dict[str, Translator],
    user_id: str,
    language_code: str | None,
    stdin: IO[bytes],
    stdout: IO[str],
    pushes: Callable[[], Awaitable[None]] | None = None,
    files_dir: Path | None = None,
) -> None:
    """Chat in a terminal: the bot greets first, numbers its choices, Ctrl-D leaves.

    `pushes`, when given, shows what the outbox holds for this user after each answer;
    files the bot sends (exports) are saved in `files_dir`.
    """
    t = translators[negotiate_language(language_code)]
    stdout.write(t._("(Type a number or a word and press Enter. Ctrl-D leaves.)") + "\n\n")

    async def send(text: str) -> None:
        inbound = Inbound(
            channel=Channel.CONSOLE.value,
            user_id=user_id,
            text=text,
            language_hint=language_code,
            message_id=uuid.uuid4().hex,
        )
        await show(await engine.handle(inbound))

    async def show(replies: list[Reply]) -> None:
        for reply in replies:
            stdout.write(render_reply(reply) + "\n")
            if reply.attachment is not None:
                saved = save_attachment(reply.attachment, files_dir or Path("."))
                stdout.write(f"  [{saved}]\n")
            stdout.write("\n")
        if pushes is not None:
            await pushes()
        stdout.write("> ")
        stdout.flush()

    # Started again, the console asks again where the person was, as a phone would show it.
    await show(await engine.resume(Channel.CONSOLE.value, user_id, language_code))
    while True:
        # An over-long line arrives cut short but still too long: the bot says so.
        raw, _too_long = await _read_line(stdin)
        if not raw:
            break
        await send(raw.decode("utf-8", "replace"))
    stdout.write("\n")
