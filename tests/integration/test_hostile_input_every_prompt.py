"""Every free-text prompt of every flow takes the Big List of Naughty Strings.

Nobody lists the prompts here: a walk finds them. From the main menu of a worker, a factory
coordinator and a programme admin, and from a newcomer's first message, it presses every
button it is shown and tries a few ordinary answers wherever the bot waits for typing,
breadth first, keeping a snapshot of the database at each new place it reaches. Each place
where a step takes text is a prompt; each prompt then gets all 515 strings, each sent from
that same place. Every step that takes text must be reached, so a prompt added later is fed
too, or this test names it. On the way, every button is also pressed with its digits forged
(digits `int` does not read, and an id of 19 digits).

SQLite only: the walk restores snapshots with SQLite's backup API. The hand-written hostile
input tests run the main prompts on PostgreSQL too.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from ffs_bot.db.tables import (
    Base,
    BookingRow,
    ConversationRow,
    IdentityRow,
    PersonRow,
    SeasonRow,
    WorkshopRow,
)
from ffs_bot.i18n import Translator
from ffs_bot.messages import Reply
from ffs_bot.model import RoleName
from ffs_bot.services import tips
from ffs_bot.services.staff import grant_role
from ffs_bot.tips import parse_library, starter_library
from ffs_bot.workshop_notices import feedback_payload
from handlers.engine import FAILURE, build_router
from handlers.router import Step
from handlers.text import Command
from tests.conftest import Backend
from tests.helpers import Chat, days_from_today, seed_factories, typed_day, typed_season
from tests.integration.test_hostile_input import assert_graceful
from tests.integration.test_summer_chat import open_season, register_in_chat
from tests.integration.test_workshop_chat import book_in_chat, plan

# Ordinary answers tried at each text prompt to get past it: whichever the prompt takes
# leads the walk on (a form's next question, a confirmation, a saved change). Days are counted
# from today (a fixed 7/14 is refused as gone for a month each year); the families' days are
# in open_season's summer, read in its year.
_DAY = typed_day(days_from_today(10))
ANSWERS = (
    "SZ01",
    "王姐",
    "2019-05",
    *typed_season(),
    "3-12",
    "30",
    f"{_DAY} 9:00-12:00",
    "7/10-7/20",
    f"{_DAY} 18:00",
    "中文",
    "English",
    "电话里多听孩子说",
    "Keeping close by video call",
    "-",
    "20:00",
    "console:someone",
    "SZ01 DG01",
)
# Buttons that go somewhere every step can go anyway, or change the persona's language (the
# answers are checked in the persona's language); the newcomer still chooses one.
GLOBAL = {command.value for command in Command}
# Tables whose rows are what people saved; none may vanish because of what was typed.
SAVED = (
    "person",
    "identity",
    "child",
    "guardian",
    "registration",
    "season",
    "workshop",
    "booking",
    "role",
    "attendance",
    "feedback",
    "tip_subscription",
    "consent",
)
MAX_PLACES = 600
# A forged button (Telegram lets a modified app send any callback data): digits that
# `str.isdigit` accepts and `int` does not.
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# And ids no column holds: past SQLite's 64 bits (PostgreSQL's 31 are in test_hostile_payloads).
DIGITS = re.compile(r"\d+")
HUGE_ID = "9" * 19


@pytest.fixture
def backend_name() -> str:
    return "sqlite"


@dataclass(frozen=True)
class Persona:
    """Someone whose conversations the walk explores."""

    user: str
    language: str


@dataclass
class Place:
    """A point in one persona's conversation, with the database as it stood there."""

    persona: Persona
    language: str
    step: str
    shape: str
    snapshot: sqlite3.Connection
    replies: list[Reply]
    path: list[str] = field(default_factory=list)


class Snapshots:
    """Copies of the SQLite database in memory, restored into the live file."""

    def __init__(self, path: str) -> None:
        self._live = sqlite3.connect(path)

    def take(self) -> sqlite3.Connection:
        copy = sqlite3.connect(":memory:")
        self._live.backup(copy)
        return copy

    def restore(self, copy: sqlite3.Connection) -> None:
        copy.backup(self._live)

    def close(self) -> None:
        self._live.close()


def shape(value: Any, top: bool = True) -> Any:
    """What a state's data says about the question: its keys, and words naming a field.

    Values are blanked; at the top, ids left from earlier screens are dropped (the door code
    question is the same question whichever workshop the person last opened).
    """
    if isinstance(value, dict):
        return {
            key: shape(item, False)
            for key, item in sorted(value.items())
            if not (top and isinstance(item, int))
        }
    if isinstance(value, str) and re.fullmatch(r"[a-z_]{3,20}", value):
        return value
    return ""


def question(replies: list[Reply]) -> str:
    """The last paragraph the bot said, digits aside: the question a prompt asks."""
    text = replies[-1].text.strip() if replies else ""
    return re.sub(r"\d+", "#", text.rsplit("\n", 1)[-1])


def text_steps() -> set[str]:
    """The steps that take typed text: those overriding `Step.on_text`."""
    router = build_router()
    return {name for name, step in router._steps.items() if type(step).on_text is not Step.on_text}


async def language_of(backend: Backend, user: str, default: str) -> str:
    """The language the person reads now (a newcomer may have chosen English)."""
    async with backend.db.uow() as uow:
        language = await uow.session.scalar(
            select(PersonRow.language)
            .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
            .where(IdentityRow.channel == "console", IdentityRow.external_user_id == user)
        )
    return language or default


async def state_of(backend: Backend, user: str) -> tuple[str, dict[str, Any], list[Any]]:
    async with backend.db.uow() as uow:
        row = (
            await uow.session.execute(
                select(ConversationRow.step, ConversationRow.data, ConversationRow.choices)
                .join(IdentityRow, IdentityRow.id == ConversationRow.identity_id)
                .where(IdentityRow.channel == "console", IdentityRow.external_user_id == user)
            )
        ).one_or_none()
    if row is None:
        return "", {}, []
    return row.step, dict(row.data or {}), list(row.choices or [])


async def put_state(
    backend: Backend, user: str, state: tuple[str, dict[str, Any], list[Any]]
) -> None:
    async with backend.db.uow() as uow:
        identity = await uow.session.scalar(
            select(IdentityRow.id).where(
                IdentityRow.channel == "console", IdentityRow.external_user_id == user
            )
        )
        await uow.session.execute(
            update(ConversationRow)
            .where(ConversationRow.identity_id == identity)
            .values(step=state[0], data=state[1], choices=state[2])
        )
        await uow.commit()


async def saved_rows(backend: Backend) -> dict[str, set[tuple[Any, ...]]]:
    tables: dict[str, Table] = {
        name: table for name, table in Base.metadata.tables.items() if name in SAVED
    }
    assert set(tables) == set(SAVED), set(SAVED) - set(tables)
    found: dict[str, set[tuple[Any, ...]]] = {}
    async with backend.db.uow() as uow:
        for name, table in tables.items():
            keys = list(table.primary_key.columns)
            found[name] = {tuple(row) for row in await uow.session.execute(select(*keys))}
    return found


async def world(backend: Backend) -> list[str]:
    """Factories, a season to confirm by hand, workshops, tips, and people in them.

    Returns the buttons pushes would carry (a workshop's feedback question): the walk
    presses them from the worker's main menu.
    """
    await seed_factories(backend.db)
    await open_season(backend)
    # The later workshop first: the worker books both, and the first is then made past.
    made = [
        await plan(backend, 5, datetime.now(UTC) + timedelta(days=3)),
        await plan(backend, 5, datetime.now(UTC) + timedelta(minutes=30)),
    ]
    entries, problems = parse_library(starter_library())
    assert not problems
    async with backend.db.uow() as uow:
        # Places confirmed by hand, so a registration waits for the coordinator's answer.
        await uow.session.execute(update(SeasonRow).values(auto_confirm=False))
        await tips.import_tips(uow, entries)
        for user, role, codes in (
            ("coordinator", RoleName.COORDINATOR, ["SZ01"]),
            ("admin", RoleName.ADMIN, []),
        ):
            await grant_role(
                uow, channel="console", external_user_id=user, role=role, factory_codes=codes
            )
        await uow.commit()
    for user, language in (("coordinator", "zh_Hans"), ("admin", "en")):
        await Chat(backend.conversations, user=user).onboard(language=language, name="李老师")
    worker = Chat(backend.conversations, user="worker")
    await worker.onboard(language="zh_Hans", name="王姐")
    for payload in ("menu", "children", "child:add", "childnotice:yes"):
        await worker.press(payload)
    for typed in ("小明", "2019-05"):
        await worker.send(typed)
    for payload in ("gender:none", "rel:father"):
        await worker.press(payload)
    assert "已保存：小明" in worker.text, worker.text
    await register_in_chat(worker)
    for workshop_id in made:
        await book_in_chat(worker, workshop_id)
    # The first workshop is over and the worker was there: its feedback question is due.
    async with backend.db.uow() as uow:
        past = datetime.now(UTC) - timedelta(hours=3)
        await uow.session.execute(
            update(WorkshopRow)
            .where(WorkshopRow.id == made[0])
            .values(starts_at=past, ends_at=past + timedelta(hours=2))
        )
        booking = await uow.session.scalar(
            select(BookingRow).where(BookingRow.workshop_id == made[0])
        )
        assert booking is not None
        await uow.session.execute(
            update(BookingRow).where(BookingRow.id == booking.id).values(checked_in_at=past)
        )
        await uow.commit()
    return [feedback_payload(booking.id, 5)]


async def test_every_free_text_prompt_takes_every_naughty_string(
    backend: Backend, translators: dict[str, Translator], naughty_strings: list[str]
) -> None:
    push_buttons = await world(backend)
    snapshots = Snapshots(backend.url.split("///", 1)[1])
    wanted = text_steps()
    personas = {
        "worker": Persona("worker", "zh_Hans"),
        "coordinator": Persona("coordinator", "zh_Hans"),
        "admin": Persona("admin", "en"),
        "newcomer": Persona("newcomer", "zh_Hans"),
    }
    failures = {language: t._(FAILURE) for language, t in translators.items()}
    places: list[Place] = []
    seen: set[tuple[str, str, str]] = set()
    queue: deque[Place] = deque()
    chats = {name: Chat(backend.conversations, user=name) for name in personas}
    chats["newcomer"].language_code = "zh-CN"

    async def arrive(persona: Persona, action: str, path: list[str]) -> tuple[str, str]:
        """Note where an action led; a place not seen before is snapshotted and explored."""
        chat = chats[persona.user]
        sent = action.removeprefix("text:") if action.startswith("text:") else None
        if sent is not None:
            await chat.send(sent)
        else:
            await chat.press(action)
        language = await language_of(backend, persona.user, persona.language)
        assert_graceful(chat, sent, language, failures[language])
        step, data, _choices = await state_of(backend, persona.user)
        key = (persona.user, step, json.dumps(shape(data), sort_keys=True))
        if key not in seen and len(seen) < MAX_PLACES:
            seen.add(key)
            snapshot = snapshots.take()
            place = Place(persona, language, step, key[2], snapshot, chat.last, [*path, action])
            places.append(place)
            queue.append(place)
        return step, key[2]

    start = snapshots.take()
    for persona in personas.values():
        snapshots.restore(start)
        if persona.user == "newcomer":
            await arrive(persona, "text:/start", [])
            continue
        await arrive(persona, "menu", [])
        if persona.user == "worker":
            for button in push_buttons:
                snapshots.restore(start)
                await arrive(persona, button, [])

    while queue:
        place = queue.popleft()
        actions = [
            choice.payload
            for reply in place.replies
            for choice in reply.choices
            if choice.payload not in GLOBAL
            and not (choice.payload.startswith("lang:") and place.persona.user != "newcomer")
        ]
        forged = [action.translate(SUPERSCRIPT) for action in actions]
        forged += [DIGITS.sub(HUGE_ID, action) for action in actions if DIGITS.search(action)]
        for action in dict.fromkeys([*actions, *forged]):
            snapshots.restore(place.snapshot)
            chats[place.persona.user].last = place.replies
            await arrive(place.persona, action, place.path)
        if place.step not in wanted:
            continue
        # Ordinary answers until one is taken: that one leads on to what follows.
        for answer in ANSWERS:
            snapshots.restore(place.snapshot)
            chats[place.persona.user].last = place.replies
            if await arrive(place.persona, f"text:{answer}", place.path) != (
                place.step,
                place.shape,
            ):
                break

    assert len(seen) < MAX_PLACES, "the walk did not end: is some state counting up?"
    # One place per kind of question, a Chinese speaker's where there is one (the stricter
    # check); then one per question asked (a form asks the same when opening and editing).
    by_kind = {
        (place.step, place.shape): place
        for place in sorted(places, key=lambda place: place.language == "zh_Hans")
        if place.step in wanted
    }
    prompts = list({(p.step, question(p.replies)): p for p in by_kind.values()}.values())
    missing = wanted - {place.step for place in prompts}
    assert not missing, f"no way found to these text prompts; make the world reach them: {missing}"
    # Where the answer is typed and the only buttons leave (Cancel, Main menu), a typed "1"
    # is the answer: those buttons are shown as words and picked by their words alone.
    for place in by_kind.values():
        for reply in place.replies:
            if reply.choices and all(c.payload in GLOBAL for c in reply.choices):
                assert not reply.numbered, (place.step, place.path, reply.text)

    for place in prompts:
        persona, chat = place.persona, chats[place.persona.user]
        snapshots.restore(place.snapshot)
        there = await state_of(backend, persona.user)
        language = place.language
        before = await saved_rows(backend)
        asked = question(place.replies)
        for text in naughty_strings:
            await chat.send(text)
            assert_graceful(chat, text, language, failures[language])
            if asked not in re.sub(r"\d+", "#", chat.text):
                # Taken (or answered otherwise): back to the question for the next string.
                await put_state(backend, persona.user, there)
        after = await saved_rows(backend)
        for table, rows in before.items():
            lost = rows - after[table]
            assert not lost, f"{table} rows lost at {place.step} ({place.path}): {lost}"
    snapshots.close()
