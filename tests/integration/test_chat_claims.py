"""Several processes answering one bot: each chat in order and once, whichever stored what.

Two `TelegramChannel`s with their own engines (so their own PostgreSQL sessions) stand in
for two replicas behind a load balancer; the in-memory Bot API records what they send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from bot.telegram import channel as channel_module
from bot.telegram.channel import TelegramChannel
from bot.telegram.ratelimit import FloodLimiter
from ffs_bot.db.claims import ChatClaims
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import InboundUpdateRow, utcnow
from ffs_bot.db.uow import Database
from ffs_bot.i18n import Translator
from ffs_bot.services.updates import (
    chat_pending,
    mark_updates_done,
    pending_updates,
    store_updates,
)
from handlers.engine import ConversationEngine, build_router
from tests.conftest import Backend
from tests.fakes.telegram_api import FakeBotApi
from tests.helpers import seed_factories
from tests.telegram_harness import make_bot

Replica = Callable[[], TelegramChannel]


async def test_a_chats_pending_updates_come_in_stored_order_without_done_or_other_chats(
    backend: Backend,
) -> None:
    async with backend.db.uow() as uow:
        stored = await store_updates(
            uow,
            "telegram",
            [("9", "a", {"n": 1}), ("10", "b", {"n": 2}), ("11", "a", {"n": 3})],
        )
        await store_updates(uow, "telegram", [("12", "a", {"n": 4})])
        await store_updates(uow, "wechat", [("13", "a", {"n": 5})])
        await mark_updates_done(uow, [stored[0].id])
        await uow.commit()
    async with backend.db.uow() as uow:
        pending = await chat_pending(uow, "telegram", "a")
        assert [(u.external_id, u.body) for u in pending] == [("11", {"n": 3}), ("12", {"n": 4})]
        assert await chat_pending(uow, "telegram", "zz") == []
        # The sweep's question: only updates waiting longer than a live process would leave them.
        assert await pending_updates(uow, "telegram", older_than=timedelta(minutes=1)) == []
        await uow.session.execute(
            update(InboundUpdateRow)
            .where(InboundUpdateRow.external_id == "10")
            .values(received_at=utcnow() - timedelta(minutes=5))
        )
        old = await pending_updates(uow, "telegram", older_than=timedelta(minutes=1))
        assert [u.external_id for u in old] == ["10"]
    assert (ChatClaims.for_engine(backend.engine) is None) is (backend.name == "sqlite")


@pytest.fixture
async def replicas(
    backend: Backend, translators: dict[str, Translator]
) -> AsyncIterator[tuple[FakeBotApi, Replica]]:
    """A factory of replicas of the service: each with its own engine and claims."""
    if backend.name == "sqlite":
        pytest.skip("SQLite serves one process; claims between replicas are PostgreSQL's")
    await seed_factories(backend.db)
    api = FakeBotApi()
    made: list[tuple[TelegramChannel, Any]] = []

    def replica() -> TelegramChannel:
        engine = create_engine(backend.url)
        db = Database(create_session_factory(engine))
        conversations = ConversationEngine(db.uow, translators, build_router())
        channel = TelegramChannel(
            make_bot(api, FloodLimiter()),
            conversations,
            db,
            translators,
            concurrency=8,
            claims=ChatClaims.for_engine(engine),
        )
        made.append((channel, engine))
        return channel

    yield api, replica
    for channel, engine in made:
        await channel.stop()
        await engine.dispose()


def texts(api: FakeBotApi, chat: int) -> list[str]:
    return [m["text"] for m in api.sent_to(chat)]


async def test_a_replica_takes_over_the_earlier_update_another_stored_and_has_not_started(
    replicas: tuple[FakeBotApi, Replica],
) -> None:
    api, replica = replicas
    first, second = replica(), replica()
    await first.start()
    await second.start()
    # The first replica stores the person's first message but is slow to get to it (busy).
    held: list[tuple[str, Any]] = []
    submit = first._scheduler.submit
    first._scheduler.submit = lambda chat, job: held.append((chat, job)) or True  # type: ignore[method-assign]
    await first.accept([api.text(301, "/start f-SZ01", "en-US")])
    # Their next one reaches the second replica, which answers both, in order.
    await second.accept([api.press(301, "lang:en", language_code="en-US")])
    await second.join()
    answered = texts(api, 301)
    assert len(answered) == 2
    assert answered[0].startswith("Hello!")  # the language question, for /start
    assert "Privacy" in answered[1] or "privacy" in answered[1]  # after English was chosen
    # When the first replica gets to its copy, it is done: nothing is sent twice.
    for chat, job in held:
        submit(chat, job)
    await first.join()
    assert texts(api, 301) == answered
    async with first._db.uow() as uow:
        assert await pending_updates(uow, "telegram") == []


async def test_replicas_started_together_answer_each_leftover_once_and_in_order(
    replicas: tuple[FakeBotApi, Replica],
) -> None:
    api, replica = replicas
    first, second = replica(), replica()
    chats = list(range(401, 409))
    # Stored before a crash, not answered: three messages from each of eight people.
    async with first._db.uow() as uow:
        for chat in chats:
            await store_updates(
                uow,
                "telegram",
                [
                    (str(u["update_id"]), str(chat), u)
                    for u in (
                        api.text(chat, "/start f-SZ01", "en-US"),
                        api.press(chat, "lang:en", language_code="en-US"),
                        api.press(chat, "consent:yes", language_code="en-US"),
                    )
                ],
            )
        await uow.commit()
    await asyncio.gather(first.start(), second.start())
    await asyncio.gather(first.join(), second.join())
    for chat in chats:
        answered = texts(api, chat)
        assert len(answered) == 3, answered
        assert answered[0].startswith("Hello!")
        assert "rivacy" in answered[1]
        assert "call you" in answered[2]  # the name question that follows consent


async def test_a_chat_waits_for_the_replica_answering_it_and_goes_on_when_that_one_dies(
    replicas: tuple[FakeBotApi, Replica],
) -> None:
    api, replica = replicas
    dying, alive = replica(), replica()
    await alive.start()
    assert dying._claims is not None and alive._claims is not None
    assert await dying._claims.take("telegram", "302")
    await alive.accept([api.text(302, "/start f-SZ01", "en-US")])
    waiting = asyncio.create_task(alive.join())
    await asyncio.sleep(0.3)
    assert not waiting.done() and texts(api, 302) == []
    # A process that dies loses its connection, and its claims with it.
    await dying._claims.close()
    await asyncio.wait_for(waiting, timeout=10)
    assert len(texts(api, 302)) == 1


async def test_a_replica_does_not_answer_again_what_it_answered_before_marking_it_done(
    replicas: tuple[FakeBotApi, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, replica = replicas
    # Done marks wait for the end (join), so the second message finds the first unmarked.
    monkeypatch.setattr("bot.telegram.channel.DONE_BATCH_WAIT", 30.0)
    alone = replica()
    await alone.start()
    await alone.accept([api.text(303, "/start f-SZ01", "en-US")])
    for _ in range(200):
        if texts(api, 303):
            break
        await asyncio.sleep(0.02)
    await alone.accept([api.press(303, "lang:en", language_code="en-US")])
    await alone.join()
    answered = texts(api, 303)
    assert len(answered) == 2, answered
    assert answered[0].startswith("Hello!") and "rivacy" in answered[1]


async def test_an_update_marked_done_while_its_chat_is_read_is_not_answered_again(
    replicas: tuple[FakeBotApi, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, replica = replicas
    monkeypatch.setattr("bot.telegram.channel.DONE_BATCH_WAIT", 30.0)
    alone = replica()
    await alone.start()
    await alone.accept([api.text(305, "/start f-SZ01", "en-US")])
    for _ in range(200):  # answered, its done mark waiting (join would mark it)
        if texts(api, 305):
            break
        await asyncio.sleep(0.02)
    real = channel_module.chat_pending

    async def read_then_mark(uow: Any, channel: str, chat: str) -> Any:
        # The done mark commits while this read's rows are on their way back.
        found = await real(uow, channel, chat)
        await alone._mark_done()
        return found

    monkeypatch.setattr(channel_module, "chat_pending", read_then_mark)
    await alone.accept([api.press(305, "lang:en", language_code="en-US")])
    await alone.join()
    answered = texts(api, 305)
    assert len(answered) == 2, answered


async def test_a_leftover_whose_chat_a_dead_session_still_holds_is_answered_once_it_ends(
    replicas: tuple[FakeBotApi, Replica],
) -> None:
    api, replica = replicas
    killed, restarted = replica(), replica()
    async with restarted._db.uow() as uow:
        update = api.text(304, "/start f-SZ01", "en-US")
        await store_updates(uow, "telegram", [(str(update["update_id"]), "304", update)])
        await uow.commit()
    # Killed a moment ago: its session, and the chat's claim, outlive it for a little while.
    assert killed._claims is not None and await killed._claims.take("telegram", "304")
    await restarted.start()
    await restarted.join()
    assert texts(api, 304) == []
    await killed._claims.close()
    # Taken up within seconds, not at the sweep a minute or two on.
    for _ in range(100):
        if texts(api, 304):
            break
        await asyncio.sleep(0.1)
    await restarted.join()
    assert len(texts(api, 304)) == 1


async def test_the_server_ends_the_claims_session_of_a_process_gone_with_its_machine(
    replicas: tuple[FakeBotApi, Replica],
) -> None:
    _api, replica = replicas
    claims = replica()._claims
    assert claims is not None and await claims.take("telegram", "305")
    conn = claims._conn
    assert conn is not None
    if await conn.scalar(text("SELECT inet_client_addr() IS NULL")):
        pytest.skip("over a Unix socket the server sees its client go without keepalives")
    # Probed after 10 s idle, given up after three probes 5 s apart: claims freed in ~25 s.
    settings = await conn.execute(
        text(
            "SELECT current_setting('tcp_keepalives_idle'),"
            " current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count')"
        )
    )
    assert tuple(settings.one()) == ("10", "5", "3")
