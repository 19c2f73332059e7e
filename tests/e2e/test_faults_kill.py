"""Real processes killed with SIGKILL mid-work, then restarted: nothing lost, duplicates bounded.

A message a process sent just before it died cannot be known as sent: it was on the wire
when the process stopped, and the record of it was not yet written. Those, and only those,
may go out twice; everything else goes out exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from bench.fake_bot_api import FakeBotAPI
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.tables import InboundUpdateRow, OutboxRow
from ffs_bot.db.uow import Database
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services.people import touch_identity
from tests.conftest import own_postgres_database
from tests.e2e.test_run_process import FFS_BOT, TOKEN, free_port

BACKLOG = 500
RECIPIENTS = 120
SECRET = "kill-test-webhook-secret"


@pytest.fixture
async def database(backend_name: str, tmp_path: Path) -> AsyncIterator[str]:
    """The processes' database: a file of their own, or a fresh PostgreSQL database."""
    if backend_name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}"
        return
    # Several processes on PostgreSQL answer a chat under its claim (ffs_bot/db/claims.py).
    async with own_postgres_database("this kill test") as url:
        yield url


@pytest.fixture(name="env")
def process_env(tmp_path: Path, database: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FFS_"))}
    environment.update(
        DATABASE_URL=database,
        FFS_DATA_DIR=str(tmp_path),
        FFS_HTTP_PORT=str(free_port()),
        TELEGRAM_BOT_TOKEN=TOKEN,
    )
    return environment


async def start(env: dict[str, str], command: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        FFS_BOT, command, env=env, stderr=asyncio.subprocess.DEVNULL
    )


async def kill(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)


async def wait_healthy(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{env['FFS_HTTP_PORT']}/healthz"
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("the service did not come up")


async def not_done_at_kill(database: str) -> set[int]:
    """Chats whose update was stored but not marked answered when the process died."""
    engine = create_engine(database)
    try:
        async with Database(create_session_factory(engine)).uow() as uow:
            rows = await uow.session.execute(
                select(InboundUpdateRow.chat_key).where(InboundUpdateRow.done_at.is_(None))
            )
            return {int(key) for (key,) in rows}
    finally:
        await engine.dispose()


async def answered_by_the_dead(api: FakeBotAPI) -> set[int | str]:
    """Chats answered before the kill, counted once the sends left in flight have landed."""
    # The fake API records a call when it answers it, `delay` after it arrived: a send that
    # reached it just before the kill is recorded a moment after the process is gone.
    assert await api.wait_quiet(0.2, within=10)
    return set(api.sent_by_chat())


def answers_per_chat(api: FakeBotAPI) -> Counter[int | str]:
    return Counter({chat: len(texts) for chat, texts in api.sent_by_chat().items()})


def check_once_each(
    api: FakeBotAPI, chats: list[int], answered_at_kill: set[int | str], open_at_kill: set[int]
) -> int:
    """Every chat answered; a second answer only where the first went out unrecorded."""
    per_chat = answers_per_chat(api)
    assert set(per_chat) == set(chats), set(chats) - set(per_chat)
    twice = {chat for chat, n in per_chat.items() if n > 1}
    assert all(n <= 2 for n in per_chat.values())
    assert twice <= answered_at_kill & open_at_kill, twice - (answered_at_kill & open_at_kill)
    return len(twice)


async def test_a_worker_killed_mid_broadcast_serves_everyone_after_a_restart(
    env: dict[str, str],
) -> None:
    engine = create_engine(env["DATABASE_URL"])
    await upgrade(engine)
    db = Database(create_session_factory(engine))
    chats = list(range(7001, 7001 + RECIPIENTS))
    async with db.uow() as uow:
        for chat in chats:
            await touch_identity(uow, "telegram", str(chat))
            await enqueue(
                uow,
                channel="telegram",
                recipient=str(chat),
                replies=[Reply("The workshop moved to Saturday.")],
                idempotency_key=f"broadcast:1:{chat}",
            )
        await uow.commit()
    async with FakeBotAPI(token=TOKEN, delay=0.05, rate_limit=True) as api:
        for chat in chats:
            api.chat(chat)
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        worker = await start(env, "worker")
        try:
            assert await api.wait_for_calls("sendMessage", RECIPIENTS // 3, within=30)
            await kill(worker)
            # What the dead worker had claimed: the sends that were in flight.
            async with db.uow() as uow:
                in_flight = set(
                    await uow.session.scalars(
                        select(OutboxRow.recipient).where(OutboxRow.status == "sending")
                    )
                )
                # Two minutes on, the dead worker's lease has run out.
                await uow.session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.status == "sending")
                    .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
                )
                await uow.commit()
            served = len(api.sent_by_chat())
            assert 0 < served < RECIPIENTS and in_flight
            worker = await start(env, "worker")
            assert await api.wait_until(lambda: len(api.sent_by_chat()) == RECIPIENTS, 30)
            await stop(worker)
        finally:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
            await engine.dispose()
    per_chat = answers_per_chat(api)
    twice = {str(chat) for chat, n in per_chat.items() if n > 1}
    assert max(per_chat.values()) <= 2 and twice <= in_flight
    assert api.too_many_requests == 0


def update_body(update_id: int, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": chat,
            "date": int(datetime.now(UTC).timestamp()),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_run_killed_with_a_polling_backlog_answers_every_update_after_a_restart(
    env: dict[str, str],
) -> None:
    env.update(FFS_CONCURRENCY="32")
    chats = list(range(8001, 8001 + BACKLOG))
    async with FakeBotAPI(token=TOKEN, delay=0.01) as api:
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        for chat in chats:
            api.enqueue_message(chat, "/start")
        proc = await start(env, "run")
        try:
            assert await api.wait_for_calls("sendMessage", BACKLOG // 5, within=30)
            await kill(proc)
            answered_at_kill = await answered_by_the_dead(api)
            assert len(answered_at_kill) < BACKLOG
            open_at_kill = await not_done_at_kill(env["DATABASE_URL"])
            proc = await start(env, "run")
            assert await api.wait_until(lambda: len(api.sent_by_chat()) == BACKLOG, 60)
            assert await api.wait_quiet(0.3, within=10)
            await stop(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    assert proc.returncode == 0
    check_once_each(api, chats, answered_at_kill, open_at_kill)
    assert api.unconfirmed == 0 or api.undelivered == 0


async def test_run_killed_mid_webhook_burst_answers_every_update_after_telegram_retries(
    env: dict[str, str],
) -> None:
    env.update(
        FFS_CONCURRENCY="32",
        TELEGRAM_WEBHOOK_URL="https://bot.example/telegram",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    chats = list(range(9001, 9001 + BACKLOG))
    url = f"http://127.0.0.1:{env['FFS_HTTP_PORT']}/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with FakeBotAPI(token=TOKEN, delay=0.01) as api:
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        bodies = {}
        for n, chat in enumerate(chats):
            fake = api.chat(chat)
            bodies[chat] = update_body(100 + n, fake.chat_json(), fake.user_json())
        proc = await start(env, "run")
        acknowledged: set[int] = set()
        try:
            await wait_healthy(env)
            connector = aiohttp.TCPConnector(limit=64)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def post(chat: int) -> None:
                    with contextlib.suppress(aiohttp.ClientError, OSError):
                        async with http.post(url, json=bodies[chat], headers=headers) as r:
                            if r.status == 200:
                                acknowledged.add(chat)

                posts = [asyncio.create_task(post(chat)) for chat in chats]
                while len(acknowledged) < BACKLOG // 3:  # noqa: ASYNC110 - counts responses
                    await asyncio.sleep(0.005)
                await kill(proc)
                await asyncio.gather(*posts)
            answered_at_kill = await answered_by_the_dead(api)
            open_at_kill = await not_done_at_kill(env["DATABASE_URL"])
            assert len(acknowledged) < BACKLOG
            assert all(chat in open_at_kill or chat in answered_at_kill for chat in acknowledged)
            proc = await start(env, "run")
            await wait_healthy(env)
            # Telegram sends every unacknowledged update again, until it gets a 200.
            async with aiohttp.ClientSession() as http:
                for chat in chats:
                    if chat not in acknowledged:
                        async with http.post(url, json=bodies[chat], headers=headers) as r:
                            assert r.status == 200
            assert await api.wait_until(lambda: len(api.sent_by_chat()) == BACKLOG, 60)
            assert await api.wait_quiet(0.3, within=10)
            await stop(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    assert proc.returncode == 0
    check_once_each(api, chats, answered_at_kill, open_at_kill)
