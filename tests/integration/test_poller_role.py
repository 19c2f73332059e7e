"""Polling on PostgreSQL: one process polls and answers at a time; another waits, then takes over.

Telegram hands updates to one poller at a time; the poller role makes sure no second process
answers while the first still has updates in hand (a deploy starting the new process before
the old one has finished), so a poller needs no claim per chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text

from bot.telegram import channel as channel_module
from bot.telegram.channel import TelegramChannel
from bot.telegram.ratelimit import FloodLimiter
from ffs_bot.db.claims import POLLER, ROLE_NAMESPACE, SoleRole
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.uow import Database
from ffs_bot.i18n import Translator
from handlers.engine import ConversationEngine, build_router
from tests.conftest import Backend
from tests.fakes.telegram_api import FakeBotApi
from tests.helpers import seed_factories
from tests.telegram_harness import make_bot

Poller = Callable[[FakeBotApi], TelegramChannel]


async def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls a fake's record, no event to wait on
            await asyncio.sleep(0.01)


@pytest.fixture
async def pollers(
    backend: Backend, translators: dict[str, Translator], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Poller]:
    """A factory of polling processes of the service, each with its own engine and role."""
    if backend.name == "sqlite":
        pytest.skip("SQLite serves one process; the poller role is PostgreSQL's")
    monkeypatch.setattr(channel_module, "ROLE_RETRY_SECONDS", 0.01)
    await seed_factories(backend.db)
    made: list[tuple[TelegramChannel, Any]] = []

    def poller(api: FakeBotApi) -> TelegramChannel:
        engine = create_engine(backend.url)
        db = Database(create_session_factory(engine))
        conversations = ConversationEngine(db.uow, translators, build_router())
        channel = TelegramChannel(
            make_bot(api, FloodLimiter()),
            conversations,
            db,
            translators,
            concurrency=8,
            poller=SoleRole.for_engine(engine, POLLER),
        )
        made.append((channel, engine))
        return channel

    yield poller
    for channel, engine in made:
        await channel.stop()
        await engine.dispose()


async def test_the_role_is_one_processes_until_it_lets_go_or_its_connection_dies(
    backend: Backend,
) -> None:
    if backend.name == "sqlite":
        assert SoleRole.for_engine(backend.engine, POLLER) is None
        return
    engines = [create_engine(backend.url) for _ in range(2)]
    first, second = (SoleRole(engine, POLLER) for engine in engines)
    try:
        assert await first.check() is True
        assert await second.check() is False
        assert await first.check() is True  # held: confirmed, still its own
        await first.release()
        assert await second.check() is True
        assert await first.check() is False
        # The holder's session ended by the server (or its machine gone): the role is free.
        async with backend.engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND classid = :ns"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ),
                {"ns": ROLE_NAMESPACE},
            )
        assert await first.check() is True
        # The old holder finds out at its next check, without an error.
        assert await second.check() is False
    finally:
        await first.release()
        await second.release()
        for engine in engines:
            await engine.dispose()


async def test_a_second_poller_waits_then_answers_what_the_first_left_and_polls(
    pollers: Poller,
) -> None:
    old_api, new_api = FakeBotApi(), FakeBotApi()
    old, new = pollers(old_api), pollers(new_api)
    await old.start()
    await new.start()
    stop_old, stop_new = asyncio.Event(), asyncio.Event()
    polling_old = asyncio.create_task(old.poll(stop_old))
    await wait_for(lambda: bool(old_api.of("getUpdates")))
    polling_new = asyncio.create_task(new.poll(stop_new))
    # The old process stores a person's message and is stopped before answering it.
    held: list[Any] = []
    old._scheduler.submit = lambda chat, job: held.append(job) or True  # type: ignore[method-assign]
    old_api.queued = [old_api.text(501, "/start f-SZ01", "en-US")]
    await wait_for(lambda: bool(held))
    await asyncio.sleep(0.2)  # the new process asks for the role about twenty times
    assert new_api.of("getUpdates") == []
    assert old_api.sent_to(501) == []
    stop_old.set()
    await polling_old
    await old.stop()  # lets the role go; the stored message is still pending
    # The new process takes over: it answers the message the old one left, then polls.
    await wait_for(lambda: bool(new_api.of("getUpdates")))
    await new.join()
    assert [m["text"][:6] for m in new_api.sent_to(501)] == ["Hello!"]
    stop_new.set()
    await polling_new
