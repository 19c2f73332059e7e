"""Every button, pressed with someone else's ids, changes nothing and gets a clear answer.

A worker at DG01 has a child registered for DG01's season and a seat at its workshop (one
seat left), a tip, and DG01's coordinator a broadcast waiting to go. Then a worker at SZ01,
SZ01's coordinator and a sponsor viewer of DG01 (read-only) each stand at every step whose
buttons a payload belongs to, with the conversation's remembered ids all DG01's (as after a
role taken away or a factory changed mid-conversation), and press every payload forged with
DG01's ids. Nothing the DG01 family or staff hold may change, and every answer is the
stale-button answer or a refusal, never the failure message.

Which payloads exist is read from the handlers' sources: a new namespace of payloads makes
this test fail until it is added here, with the ids to forge in it.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select

from ffs_bot.db.tables import Base, IdentityRow, SeasonRow
from ffs_bot.i18n import Translator
from ffs_bot.model import Relationship, RoleName
from ffs_bot.services import tips, workshops
from ffs_bot.services.broadcasts import Audience, AudienceKind, create_broadcast
from ffs_bot.services.children import add_child
from ffs_bot.services.factories import get_factory_by_code
from ffs_bot.services.seasons import create_season
from ffs_bot.services.staff import grant_role
from ffs_bot.tips import parse_library, starter_library
from handlers import summer
from handlers.engine import FAILURE, build_router
from handlers.router import Step
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_hostile_input_every_prompt import put_state

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
# Payloads forged with DG01's ids, by namespace (what comes before the first colon).
FORGED: dict[str, tuple[str, ...]] = {
    "ws": (
        "ws:open:{workshop}",
        "ws:book",
        "ws:cancel:{booking}",
        "ws:cancel:yes",
        "ws:mine",
        "ws:list",
        "ws:skip",
    ),
    "wso": ("wso:yes:{booking}", "wso:no:{booking}"),
    "wsr": ("wsr:{booking}:5",),
    "summer": (
        "summer:register",
        "summer:register:{season}",
        "summer:child:{child}",
        "summer:whole",
        "summer:weeks",
        "summer:week:0",
        "summer:cancel:{registration}",
        "summer:cancel:yes",
        "summer:mine",
    ),
    "offer": ("offer:yes:{registration}", "offer:no:{registration}"),
    "child": ("child:{child}",),
    "cv": ("cv:invite", "cv:name", "cv:birth", "cv:health", "cv:remove"),
    "rm": ("rm:yes",),
    "health": ("health:erase", "health:yes"),
    "tip": ("tip:y:{delivery}", "tip:n:{delivery}"),
    "st": (
        "st:season:{season}",
        "st:ok:{registration}",
        "st:no:{registration}",
        "st:in:{registration}",
        "st:out:{registration}",
        "st:close",
        "st:open",
        "st:autoconfirm",
        "st:waitlist",
        "st:roster",
        "st:edit",
        "st:export",
        "st:field:capacity",
        "st:x:registrations:csv",
        "st:x:attendance:xlsx",
        "st:back",
    ),
    "sw": (
        "sw:open:{workshop}",
        "sw:bookings",
        "sw:checkin",
        "sw:cancel",
        "sw:cancel:yes",
        "sw:edit",
        "sw:field:capacity",
        "sw:x:csv",
        "sw:back",
    ),
    "bc": (
        "bc:f:{factory}",
        "bc:f:all",
        "bc:s:{season}",
        "bc:w:{workshop}",
        "bc:all",
        "bc:now",
        "bc:later",
        "bc:cancel:{broadcast}",
        "bc:refresh",
    ),
    "roles": ("roles:admin", "roles:coordinator", "roles:sponsor"),
    # Namespaces that carry no one else's id and act on the presser's own account only
    # (language, privacy answers, their details, their own new child, their tips, a menu
    # jump, a factory to join, their own report): nothing of DG01's to forge.
    "lang": (),
    "consent": (),
    "renew": (),
    "data": (),
    "forget": (),
    "account": (),
    "switch": (),
    "childnotice": (),
    "gender": (),
    "rel": (),
    "joinnotice": (),
    "jrel": (),
    "tips": (),
    "go": (),
    "fac": (),
    "rep": (),
}
# Buttons without a namespace that open a staff screen: its prompt reads through services.
OPENERS = {
    "main": ("staff", "report"),
    "staff": ("staff.ws", "tips.figures", "bc", "roles.account"),
}
# Pressed from any step: offers and ratings arrive in pushes.
GLOBAL = ("wso", "wsr", "offer", "tip")
# What DG01's people hold: none of it may change.
HELD = (
    "child",
    "guardian",
    "child_invite",
    "registration",
    "season",
    "season_sponsor",
    "attendance",
    "workshop",
    "booking",
    "feedback",
    "tip_delivery",
    "role",
    "broadcast",
    "outbox",
    "audit_event",
)
# A whole string literal that reads as a payload: a namespace, a colon, no spaces (a msgid
# such as "full: you can join the waiting list" has some).
NAMESPACE = re.compile(r"""(["'])([a-z]+):[^\s"'\\]*\1""")


def handler_namespaces() -> set[str]:
    """The payload namespaces written in the handlers' sources ("ws" of "ws:open:{id}")."""
    found: set[str] = set()
    for path in HANDLERS.glob("*.py"):
        found |= {name for _quote, name in NAMESPACE.findall(path.read_text(encoding="utf-8"))}
    return found


@functools.cache
def step_sources() -> dict[str, str]:
    """Each step's code: its class's and its bases' in the handlers."""
    return {
        name: "".join(
            inspect.getsource(cls)
            for cls in type(step).__mro__
            if cls.__module__.startswith("handlers.") and cls is not Step
        )
        for name, step in build_router()._steps.items()
    }


def steps_for(namespace: str) -> list[str]:
    """The steps whose code names this namespace (a confirmation step, as its prefix)."""
    marker = re.compile(rf"""["']{re.escape(namespace)}:""")
    return [name for name, source in step_sources().items() if marker.search(source)]


async def world(backend: Backend) -> dict[str, Any]:
    """DG01's family, season, workshop, tip and broadcast; the three outsiders, onboarded."""
    db = backend.db
    await seed_factories(db)
    now = datetime.now(UTC)
    today = now.date()
    entries, problems = parse_library(starter_library())
    assert not problems
    async with db.uow() as uow:
        await tips.import_tips(uow, entries[:10])
        for user, role, codes in (
            ("dg-coordinator", RoleName.COORDINATOR, ["DG01"]),
            ("sz-coordinator", RoleName.COORDINATOR, ["SZ01"]),
            ("sponsor", RoleName.SPONSOR, ["DG01"]),
        ):
            await grant_role(
                uow, channel="console", external_user_id=user, role=role, factory_codes=codes
            )
        season = await create_season(
            uow,
            factory_code="DG01",
            starts_on=today + timedelta(days=30),
            ends_on=today + timedelta(days=60),
            min_age_years=3,
            max_age_years=12,
            capacity=5,
            registration_deadline=today + timedelta(days=20),
            auto_confirm=False,
        )
        workshop = await workshops.create_workshop(
            uow,
            factory_code="DG01",
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=3),
            topic="Calling home",
            language="zh_Hans",
            capacity=2,
        )
        await uow.commit()
    chats = {}
    for user, factory in (
        ("dg-worker", "DG01"),
        ("dg-coordinator", "DG01"),
        ("worker", "SZ01"),
        ("sz-coordinator", "SZ01"),
        ("sponsor", "SZ02"),  # not a DG01 worker: a sponsor viewer of DG01 only
    ):
        chats[user] = Chat(backend.conversations, user=user)
        await chats[user].onboard(language="en", factory=factory, name="Ah Ming")
    family = chats["dg-worker"]
    for payload in ("menu", "children", "child:add", "childnotice:yes"):
        await family.press(payload)
    for typed in ("Xiao Ming", "2019-05"):
        await family.send(typed)
    for payload in ("gender:none", "rel:mother", "menu", "summer", "summer:register"):
        await family.press(payload)
    child = next(int(p.split(":")[2]) for p in family.payloads if p.startswith("summer:child:"))
    await family.press(f"summer:child:{child}")
    await family.press("summer:whole")
    registration = next(
        int(p.split(":")[2]) for p in family.payloads if p.startswith("summer:cancel:")
    )
    for payload in ("menu", "ws", f"ws:open:{workshop.id}", "ws:book"):
        await family.press(payload)
    booking = next(int(p.split(":")[2]) for p in family.payloads if p.startswith("ws:cancel:"))
    await family.press("menu")
    await family.press("tips")
    await family.press("tips:more")
    delivery = next(int(p.split(":")[2]) for p in family.payloads if p.startswith("tip:y:"))
    async with db.uow() as uow:
        ids = {}
        for user in chats:
            ids[user] = await uow.session.scalar(
                select(IdentityRow.person_id).where(IdentityRow.external_user_id == user)
            )
        dg01 = await get_factory_by_code(uow, "DG01")
        assert dg01 is not None
        broadcast = await create_broadcast(
            uow,
            ids["dg-coordinator"],
            text_zh="明天上午九点开放日",
            text_en="Open day tomorrow at 9",
            audience=Audience(AudienceKind.FACTORIES, (dg01.id,)),
            send_at=now + timedelta(days=1),
        )
        # Each outsider has a child of their own, so a remembered child is theirs where
        # only the season is DG01's (the summer days and weeks steps).
        own = {}
        for user in ("worker", "sz-coordinator", "sponsor"):
            kid = await add_child(
                uow,
                person_id=ids[user],
                name="Own kid",
                birth_year=2019,
                birth_month=5,
                gender=None,
                relationship=Relationship.FATHER,
                today=today,
            )
            own[user] = kid.id
        await uow.commit()
    assert (workshop.capacity, season.capacity) == (2, 5)
    return {
        "chats": chats,
        "own_child": own,
        "ids": {
            "workshop": workshop.id,
            "booking": booking,
            "season": season.id,
            "child": child,
            "registration": registration,
            "delivery": delivery,
            "broadcast": broadcast.id,
            "factory": dg01.id,
        },
    }


async def held_rows(backend: Backend) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of the tables DG01's people hold, whole."""
    tables: dict[str, Table] = {
        name: table for name, table in Base.metadata.tables.items() if name in HELD
    }
    assert set(tables) == set(HELD), set(HELD) - set(tables)
    found = {}
    async with backend.db.uow() as uow:
        for name, table in tables.items():
            rows = await uow.session.execute(select(table))
            found[name] = {tuple(map(_hashable, row)) for row in rows}
    return found


def _hashable(value: Any) -> Any:
    """A JSON column's value as text, to compare rows in sets."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def remembered(ids: dict[str, int]) -> dict[str, Any]:
    """A conversation's data with every remembered id DG01's."""
    return {
        "workshop": ids["workshop"],
        "booking": ids["booking"],
        "rated": ids["booking"],
        "season_id": ids["season"],
        "child_id": ids["child"],
        "registration_id": ids["registration"],
        "staff_season": ids["season"],
        "staff_workshop": ids["workshop"],
        "decline": ids["registration"],
        "decline_from": "staff.regs",
        "bc_audience": Audience(AudienceKind.WORKSHOP, (ids["workshop"],)).to_json(),
        "bc_zh": "明天上午九点开放日",
        "bc_en": "Open day tomorrow at 9",
        "grant": {"channel": "console", "user": "worker", "role": "admin"},
    }


def test_every_payload_namespace_in_the_handlers_is_walked() -> None:
    missing = handler_namespaces() - set(FORGED)
    assert not missing, f"payloads the walk does not forge; add them to FORGED: {missing}"
    for namespace, payloads in FORGED.items():
        assert all(p.startswith(f"{namespace}:") for p in payloads), namespace
        if payloads and namespace not in GLOBAL:
            assert steps_for(namespace), f"no step takes {namespace}: payloads"


async def test_someone_elses_ids_in_every_button_change_nothing(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    made = await world(backend)
    ids, chats = made["ids"], made["chats"]
    before = await held_rows(backend)
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(SeasonRow.seats_taken)) == 1
    failure = translators["en"]._(FAILURE)
    presses: dict[str, list[str]] = {}
    for namespace, payloads in FORGED.items():
        forged = [payload.format(**ids) for payload in payloads]
        for step in steps_for(namespace) if namespace not in GLOBAL else ["main"]:
            presses.setdefault(step, []).extend(forged)
    for step, openers in OPENERS.items():
        presses.setdefault(step, []).extend(openers)
    assert {"ws", "ws.one", "summer.days", "staff", "staff.season", "staff.ws.one"} <= set(presses)
    problems = []
    for user in ("worker", "sz-coordinator", "sponsor"):
        chat = chats[user]
        for step, payloads in presses.items():
            data = remembered(ids)
            if step in (summer.DAYS, summer.WEEKS):
                data["child_id"] = made["own_child"][user]
            for payload in payloads:
                await put_state(backend, user, (step, data, []))
                await chat.press(payload)
                if not chat.last or failure in chat.text:
                    problems.append(f"{user} at {step} pressing {payload}: {chat.text!r}")
            # Once per step: a change stays, so it is caught here with the payloads that made it.
            after = await held_rows(backend)
            for table, rows in before.items():
                if after[table] != rows:
                    problems.append(f"{user} at {step} ({payloads}) changed {table}")
                    before[table] = after[table]
    assert not problems, "\n".join(problems)


async def test_the_dg01_workshop_is_not_found_by_an_sz01_worker(backend: Backend) -> None:
    """The reported case: open by id, book the last seat."""
    made = await world(backend)
    worker = made["chats"]["worker"]
    for payload in ("menu", "ws", f"ws:open:{made['ids']['workshop']}"):
        await worker.press(payload)
    assert "no longer active" in worker.text
    await worker.press("ws:book")
    assert "no longer active" in worker.text
    async with backend.db.uow() as uow:
        shown = await workshops.get_workshop(uow, made["ids"]["workshop"])
    assert shown.seats_taken == 1
