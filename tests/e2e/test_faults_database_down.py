"""The database unreachable for a while: people are told, nothing accepted is lost, it heals.

On PostgreSQL the database sits behind a TCP proxy that the test cuts (refusing new
connections, resetting open ones) and restores. On SQLite another process holds the write
lock longer than our busy timeout, as a backup or an operator's `sqlite3` shell would.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.telegram.channel import OUTAGE_NOTICE
from bot.web import SECRET_HEADER, TELEGRAM_PATH, WECHAT_PATH, create_web_app
from bot.worker import OutboxWorker
from ffs_bot.db import engine as db_engine
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.tables import InboundUpdateRow, OutboxRow, PersonRow
from ffs_bot.db.uow import Database
from ffs_bot.delivery import Delivery, Outcome
from ffs_bot.i18n import Translator
from ffs_bot.messages import Reply
from ffs_bot.notices import FamilyNotifier
from ffs_bot.outbox import enqueue
from ffs_bot.services.people import touch_identity
from handlers.engine import FAILURE, ConversationEngine, build_router
from tests.conftest import Backend, _fresh_postgres
from tests.e2e.test_polling_and_webhook import SECRET
from tests.fakes.tcp_proxy import TcpProxy
from tests.telegram_harness import TelegramHarness, start_harness
from tests.wechat_harness import WeChatServer

CHATS = (11, 12, 13)


@dataclass
class Outage:
    """A backend whose database can be made unreachable and reachable again."""

    backend: Backend
    cut: Callable[[], object]
    restore: Callable[[], object]


class _SqliteLock:
    """Another connection holding SQLite's write lock."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def cut(self) -> None:
        self._conn = sqlite3.connect(self._path, isolation_level=None)
        self._conn.execute("BEGIN IMMEDIATE")

    async def restore(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._conn.close()
        self._conn = None


def _backend(name: str, url: str, engine, translators: dict[str, Translator]) -> Backend:
    db = Database(create_session_factory(engine))
    notify = FamilyNotifier(translators)
    conversations = ConversationEngine(db.uow, translators, build_router(), notify)
    return Backend(name, url, engine, db, conversations, notify)


@pytest.fixture(params=["postgresql", "sqlite"])
def outage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}"


@pytest.fixture
async def outage(
    outage_url: str, translators: dict[str, Translator], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Outage]:
    if outage_url.startswith("postgresql"):
        server_url = outage_url
        await (await _fresh_postgres(server_url)).dispose()
        url = make_url(server_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        engine = create_engine(proxied)
        try:
            backend = _backend("postgresql", proxied, engine, translators)
            yield Outage(backend, proxy.cut, proxy.restore)
        finally:
            if not proxy.listening:
                await proxy.restore()
            await engine.dispose()
            await proxy.cut()
        return
    # A short busy timeout, so that a lock held for a second is an outage, not a wait.
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    url = outage_url
    path = Path(make_url(url).database or "")
    engine = create_engine(url)
    await upgrade(engine)
    lock = _SqliteLock(path)
    try:
        yield Outage(_backend("sqlite", url, engine, translators), lock.cut, lock.restore)
    finally:
        if lock._conn is not None:
            await lock.restore()
        await engine.dispose()


@pytest.fixture
async def telegram(outage: Outage, translators: dict[str, Translator]):
    harness = await start_harness(outage.backend, translators)
    try:
        yield harness
    finally:
        await harness.channel.stop()


async def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls a fake's record, no event to wait on
            await asyncio.sleep(0.01)


def texts(telegram: TelegramHarness, chat: int) -> list[str]:
    return [call["text"] for call in telegram.api.sent_to(chat)]


async def count(backend: Backend, table) -> int:
    async with backend.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


async def languages(backend: Backend) -> list[str | None]:
    async with backend.db.uow() as uow:
        return list(await uow.session.scalars(select(PersonRow.language)))


async def test_polling_during_an_outage_tells_each_chat_once_and_answers_everything_after(
    outage: Outage, telegram: TelegramHarness, translators: dict[str, Translator]
) -> None:
    api = telegram.api
    await telegram.deliver(*(api.text(chat, "/start", "en") for chat in CHATS))
    await outage.cut()
    api.queued = [api.press(chat, "lang:en", language_code="en") for chat in CHATS]
    api.queued += [api.text(chat, "menu", "en") for chat in CHATS]
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    try:
        notice = translators["en"]._(OUTAGE_NOTICE)
        await wait_for(lambda: all(notice in texts(telegram, chat) for chat in CHATS))
        # Not stored, so not confirmed: every poll so far asked from the same offset.
        await wait_for(lambda: len(api.of("getUpdates")) >= 3)
        assert len({call.get("offset") for call in api.of("getUpdates")}) == 1
        await outage.restore()
        await wait_for(lambda: all(len(texts(telegram, chat)) == 4 for chat in CHATS))
        await telegram.channel.join()
    finally:
        stop.set()
        await poller
    for chat in CHATS:
        sent = texts(telegram, chat)
        # The /start answer, the notice once, then the press's answer and the menu.
        assert sent[1] == notice and sent.count(notice) == 1, sent
        assert "which factory" in sent[2].lower() and sent[3] != notice
    assert await count(outage.backend, InboundUpdateRow) == 3 * len(CHATS)
    assert await languages(outage.backend) == ["en"] * len(CHATS)


async def test_updates_stored_before_the_outage_are_answered_when_it_ends(
    outage: Outage, telegram: TelegramHarness, translators: dict[str, Translator]
) -> None:
    api = telegram.api
    await telegram.deliver(*(api.text(chat, "/start", "zh-hans") for chat in CHATS))
    # Stored (and so confirmed to Telegram); the database goes before they are handled.
    await telegram.channel.accept([api.press(chat, "lang:en") for chat in CHATS])
    await outage.cut()
    notice = translators["zh_Hans"]._(OUTAGE_NOTICE)
    await wait_for(lambda: all(notice in texts(telegram, chat) for chat in CHATS))
    await asyncio.sleep(0.6)  # a retry or two while it is still down
    await outage.restore()
    await telegram.channel.join()
    for chat in CHATS:
        sent = texts(telegram, chat)
        assert sent.count(notice) == 1 and len(sent) == 3, sent
        assert "which factory" in sent[2].lower()
    assert await languages(outage.backend) == ["en"] * len(CHATS)
    async with outage.backend.db.uow() as uow:
        undone = select(func.count()).where(InboundUpdateRow.done_at.is_(None))
        assert await uow.session.scalar(undone) == 0


async def test_the_webhook_refuses_during_an_outage_and_takes_telegrams_retry(
    outage: Outage, telegram: TelegramHarness, translators: dict[str, Translator]
) -> None:
    app = create_web_app(outage.backend.engine, telegram.channel, SECRET)
    api = telegram.api
    update = api.text(21, "/start", "en")
    async with TestClient(TestServer(app)) as client:
        await outage.cut()
        refused = [
            await client.post(TELEGRAM_PATH, json=update, headers={SECRET_HEADER: SECRET})
            for _ in range(2)
        ]
        health = await client.get("/healthz")
        await outage.restore()
        # Telegram sends an unacknowledged update again, until it gets a 200.
        again = await client.post(TELEGRAM_PATH, json=update, headers={SECRET_HEADER: SECRET})
        await telegram.channel.join()
        healthy = await client.get("/healthz")
    assert [r.status for r in refused] == [503, 503] and again.status == 200
    if outage.backend.name == "postgresql":
        assert (health.status, healthy.status) == (503, 200)
    sent = texts(telegram, 21)
    assert sent[0] == translators["en"]._(OUTAGE_NOTICE) and len(sent) == 2
    assert sent[1].startswith("Hello!")


async def test_wechat_during_an_outage_gets_try_again_and_then_an_answer(
    outage: Outage, translators: dict[str, Translator]
) -> None:
    from tests.e2e.test_wechat import make_channel

    channel = make_channel(outage.backend, translators)
    app = create_web_app(outage.backend.engine, wechat=channel)
    async with TestClient(TestServer(app)) as client:
        wechat = WeChatServer(client)
        await outage.cut()
        # WeChat keeps nothing for us: the passive reply asks to send it again shortly.
        down = await wechat.text("o-down", "你好", msg_id=7)
        await outage.restore()
        up = await wechat.text("o-down", "你好", msg_id=8)
        await channel.stop()
    assert down.status == 200 and down.text == translators["zh_Hans"]._(FAILURE)
    assert up.status == 200 and "请选择语言" in (up.text or "")
    assert WECHAT_PATH == "/wechat"


class _Recorder:
    """A sender that counts what it sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, recipient: str, replies: list[Reply], *, kind: str = "") -> Delivery:
        await asyncio.sleep(0.01)
        self.sent.append(recipient)
        return Delivery(Outcome.SENT)


async def test_the_outbox_worker_waits_out_an_outage_and_sends_each_push_once(
    outage: Outage,
) -> None:
    db = outage.backend.db
    recipients = [str(900 + i) for i in range(40)]
    async with db.uow() as uow:
        for recipient in recipients:
            await touch_identity(uow, "telegram", recipient)
            await enqueue(
                uow,
                channel="telegram",
                recipient=recipient,
                replies=[Reply("hello")],
                idempotency_key=f"push:{recipient}",
            )
        await uow.commit()
    sender = _Recorder()
    worker = OutboxWorker(db, {"telegram": sender}, in_flight=4, idle_wait=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: len(sender.sent) >= 5)
        await outage.cut()
        await asyncio.sleep(1.0)
        assert not running.done()  # it waits; it does not die
        await outage.restore()

        async def settled() -> int:
            async with db.uow() as uow:
                return int(
                    await uow.session.scalar(
                        select(func.count()).where(OutboxRow.status == "sent")
                    )
                    or 0
                )

        async with asyncio.timeout(20):
            while await settled() < len(recipients):  # noqa: ASYNC110 - rows in a database
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert sorted(sender.sent) == sorted(recipients)
