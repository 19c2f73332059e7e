"""Scale-out on PostgreSQL: two `ffs-bot run` replicas behind one address, two workers.

Real processes on one fresh database. The fakes are at the network edge only: the Bot API
(bench/fake_bot_api.py) and, standing in for a load balancer, a round-robin proxy that
hands each webhook POST to the next replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bench.fake_bot_api import FakeBotAPI
from bot.web import SECRET_HEADER
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import InboundUpdateRow, OutboxRow, PersonRow
from ffs_bot.db.uow import Database
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services.factories import import_factories, parse_factory_csv
from ffs_bot.services.people import touch_identity
from tests.conftest import REPO, own_postgres_database
from tests.e2e.test_run_process import FFS_BOT, TOKEN, free_port

SECRET = "scale-out-secret"
PEOPLE = range(7001, 7006)  # five: an odd number, so round-robin splits each one's messages
SILENT_READERS = range(7101, 7131)  # people who wrote once before and only get pushes


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database of its own; the processes migrate it."""
    async with own_postgres_database("scale-out") as url:
        yield url


def sender_of(update: dict[str, Any]) -> int:
    kind = update.get("message") or update["callback_query"]
    return int(kind["from"]["id"])


class Alternating:
    """A load balancer in miniature that hands each person's next message to the other replica.

    Round-robin over all requests puts a person's messages on either replica at random; this
    alternates them always, the worst case for keeping one person's messages in order.
    """

    def __init__(self, replicas: list[str]) -> None:
        self.replicas = replicas
        self._turns: dict[int, itertools.count[int]] = {}
        self.routed: dict[int, int] = {}  # update_id -> replica index
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Alternating:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None and self._runner is not None
        await self._http.close()
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        update = json.loads(body)
        turn = self._turns.setdefault(sender_of(update), itertools.count())
        index = next(turn) % len(self.replicas)
        self.routed[update["update_id"]] = index
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._http.post(
            self.replicas[index] + request.path_qs, data=body, headers=headers
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read())


async def started(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        FFS_BOT, *args, env=env, stderr=asyncio.subprocess.PIPE
    )


async def healthy(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


async def stop_all(processes: list[asyncio.subprocess.Process]) -> list[str]:
    for proc in processes:
        if proc.returncode is None:
            proc.terminate()
    logs = []
    for proc in processes:
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        logs.append(err.decode())
    return logs


def build_updates(api: FakeBotAPI, person: int) -> list[dict[str, Any]]:
    """What one person sends, quickly, without waiting for the answers."""
    ids = [
        api.enqueue_message(person, "/start f-DG01", language_code="en-US"),
        api.enqueue_press(person, "lang:en", language_code="en-US"),
        api.enqueue_press(person, "consent:yes", language_code="en-US"),
        api.enqueue_message(person, f"Ming {person}", language_code="en-US"),
        api.enqueue_message(person, "help", language_code="en-US"),
    ]
    # The fake builds each update as Telegram would send it (a press with its message).
    built = {u["update_id"]: u for u in api._take(100, None)}
    api.queue.clear()
    return [built[i] for i in ids]


async def test_two_replicas_answer_each_person_in_order_and_two_workers_push_once(
    database: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FFS_"))}
    env.update(
        DATABASE_URL=database,
        FFS_DATA_DIR=str(tmp_path),
        FFS_LOG_LEVEL="WARNING",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_URL="https://bot.example.test/telegram",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    engine = create_engine(database)
    db = Database(create_session_factory(engine))
    # Every Bot API call takes 20 ms, so a person's next message arrives while the last one
    # is still being answered, at the other replica.
    async with FakeBotAPI(token=TOKEN, delay=0.02) as api:
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        ports = [free_port(), free_port()]
        # All at once on the empty database: each migrates it first, one after the other.
        processes = [
            *[
                await started({**env, "FFS_HTTP_PORT": str(port)}, "run", "--no-worker")
                for port in ports
            ],
            *[await started(env, "worker") for _ in range(2)],
        ]
        try:
            replicas = [f"http://127.0.0.1:{port}" for port in ports]
            await asyncio.gather(*(healthy(f"{r}/healthz") for r in replicas))
            async with db.uow() as uow:
                csv = (REPO / "ffs_bot/demo/factories.csv").read_text(encoding="utf-8")
                await import_factories(uow, parse_factory_csv(csv, "Asia/Shanghai")[0])
                await uow.commit()
            updates = {person: build_updates(api, person) for person in PEOPLE}
            async with Alternating(replicas) as proxy, aiohttp.ClientSession() as http:

                async def send(person: int) -> None:
                    # Each as soon as the last was stored, as Telegram posts one chat's updates.
                    for update in updates[person]:
                        async with http.post(
                            f"http://127.0.0.1:{proxy.port}/telegram",
                            json=update,
                            headers={SECRET_HEADER: SECRET},
                        ) as answer:
                            assert answer.status == 200

                await asyncio.gather(*(send(person) for person in PEOPLE))
            for person in PEOPLE:
                where = [proxy.routed[u["update_id"]] for u in updates[person]]
                assert where == [0, 1, 0, 1, 0]
            answers = len(PEOPLE) * len(updates[PEOPLE[0]])
            assert await api.wait_for_calls("sendMessage", answers, within=60)

            # Pushes, queued once each while two workers drain the outbox.
            async with db.uow() as uow:
                for reader in SILENT_READERS:
                    api.chat(reader)
                    await touch_identity(uow, "telegram", str(reader))
                for person in [*PEOPLE, *SILENT_READERS]:
                    for n in (1, 2):
                        await enqueue(
                            uow,
                            channel="telegram",
                            recipient=str(person),
                            replies=[Reply(f"push {n} for {person}")],
                            idempotency_key=f"scale:{person}:{n}",
                        )
                await uow.commit()
            expected = {
                person: [f"push 1 for {person}", f"push 2 for {person}"]
                for person in [*PEOPLE, *SILENT_READERS]
            }
            pushes = sum(len(texts) for texts in expected.values())
            assert await api.wait_for_calls("sendMessage", answers + pushes, within=60)
            # Anything sent twice would be sent by now.
            assert await api.wait_quiet(0.5, within=30)
        except BaseException as exc:
            # What the processes said is the clue to what went wrong.
            logs = await stop_all(processes)
            raise AssertionError(logs) from exc
        logs = await stop_all(processes)
        assert [p.returncode for p in processes] == [0, 0, 0, 0], logs

    sent = api.sent_by_chat()
    for person in PEOPLE:
        patterns = [
            r"^Hello! .*Please choose your language",  # /start
            r"Chang'an Rainbow Toys.*Privacy notice",  # lang:en: the factory and the notice
            r"^Thank you!.*What should we call you",  # consent:yes
            rf"^Welcome, Ming {person}!",  # the name
            r"^You can send these words at any time",  # help
        ]
        answered = [t for t in sent[person] if not t.startswith("push ")]
        assert len(answered) == len(patterns), answered
        for text, pattern in zip(answered, patterns, strict=True):
            assert re.search(pattern, text, re.S), (pattern, text)
    pushed = {person: [t for t in sent[person] if t.startswith("push ")] for person in expected}
    assert pushed == expected
    async with db.uow() as uow:
        names = set(
            await uow.session.scalars(
                select(PersonRow.display_name).where(PersonRow.onboarded_at.is_not(None))
            )
        )
        assert names == {f"Ming {person}" for person in PEOPLE}
        assert set(await uow.session.scalars(select(InboundUpdateRow.done_at))) != {None}
        unanswered = select(InboundUpdateRow.id).where(InboundUpdateRow.done_at.is_(None))
        assert list(await uow.session.scalars(unanswered)) == []
        assert set(await uow.session.scalars(select(OutboxRow.status))) == {"sent"}
    await engine.dispose()
