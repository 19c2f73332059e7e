"""`ffs-bot run` and `ffs-bot worker` as real processes against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bench.fake_bot_api import FakeBotAPI
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.uow import Database
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services.people import touch_identity
from tests.conftest import REPO
from tests.fakes.wechat_api import FakeWeChatApi
from tests.wechat_harness import AES_KEY, APP_ID, WeChatServer
from tests.wechat_harness import TOKEN as WX_TOKEN

FFS_BOT = Path(sys.executable).parent / "ffs-bot"
TOKEN = "4242:SECRET-bot-token-value"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_cli(env: dict[str, str], *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        FFS_BOT, *args, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    assert await proc.wait() == 0


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FFS_"))}
    environment.pop("DATABASE_URL", None)
    environment.update(
        FFS_DATA_DIR=str(tmp_path),
        FFS_HTTP_PORT=str(free_port()),
        FFS_LOG_LEVEL="DEBUG",
        TELEGRAM_BOT_TOKEN=TOKEN,
    )
    return environment


async def test_run_answers_a_deep_link_serves_health_and_stops_cleanly_on_sigterm(
    env: dict[str, str],
) -> None:
    await run_cli(env, "factory", "import", str(REPO / "ffs_bot/demo/factories.csv"))
    async with FakeBotAPI(token=TOKEN) as api:
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        proc = await asyncio.create_subprocess_exec(
            FFS_BOT, "run", env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            api.enqueue_message(77, "/start f-DG01", language_code="en-US")
            assert await api.wait_for_calls("sendMessage", 1, within=30)
            api.enqueue_press(77, "lang:en", language_code="en-US")
            assert await api.wait_for_calls("sendMessage", 2, within=30)
            assert "Chang'an Rainbow Toys" in api.sent_by_chat()[77][-1]
            url = f"http://127.0.0.1:{env['FFS_HTTP_PORT']}/healthz"
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                assert response.status == 200
                assert (await response.json())["database"] == "ok"
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0
        log = err.decode()
        assert "stopping" in log
        # Even at DEBUG, no token and no message text reaches the log.
        assert TOKEN not in log and "SECRET-bot-token" not in log
        assert "Rainbow" not in log and "f-DG01" not in log


async def test_worker_process_delivers_the_outbox(env: dict[str, str], tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}")
    await upgrade(engine)
    db = Database(create_session_factory(engine))
    async with db.uow() as uow:
        for chat in (501, 502, 503):
            await touch_identity(uow, "telegram", str(chat))  # they wrote to us once
            await enqueue(
                uow,
                channel="telegram",
                recipient=str(chat),
                replies=[Reply(f"reminder {chat}")],
                idempotency_key=f"r{chat}",
            )
        await uow.commit()
    await engine.dispose()
    async with FakeBotAPI(token=TOKEN) as api:
        for chat in (501, 502, 503):
            api.chat(chat)
        env["TELEGRAM_API_BASE_URL"] = api.base_url
        proc = await asyncio.create_subprocess_exec(
            FFS_BOT, "worker", env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            assert await api.wait_for_calls("sendMessage", 3, within=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()
    assert {chat: texts for chat, texts in api.sent_by_chat().items()} == {
        501: ["reminder 501"],
        502: ["reminder 502"],
        503: ["reminder 503"],
    }


async def test_run_on_wechat_alone_answers_and_pushes_through_the_customer_service_api(
    env: dict[str, str], tmp_path: Path
) -> None:
    await run_cli(env, "factory", "import", str(REPO / "ffs_bot/demo/factories.csv"))
    env.pop("TELEGRAM_BOT_TOKEN")
    async with FakeWeChatApi(app_id=APP_ID) as api:
        env.update(
            WECHAT_TOKEN=WX_TOKEN,
            WECHAT_AES_KEY=AES_KEY,
            WECHAT_APP_ID=api.app_id,
            WECHAT_APP_SECRET=api.secret,
            WECHAT_API_BASE_URL=api.base_url,
        )
        proc = await asyncio.create_subprocess_exec(
            FFS_BOT, "run", env=env, stderr=asyncio.subprocess.PIPE
        )
        base = f"http://127.0.0.1:{env['FFS_HTTP_PORT']}"
        try:
            async with aiohttp.ClientSession(base_url=base) as http:
                for _ in range(100):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get("/healthz") as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.2)
                server = WeChatServer(http)  # type: ignore[arg-type]
                answer = await server.event("o-proc", "subscribe", "qrscene_f-DG01")
                assert answer.status == 200 and answer.sealed
                assert "1. 中文" in (answer.text or "")
            # A push for the person who just wrote goes out as a customer-service message.
            engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}")
            db = Database(create_session_factory(engine))
            async with db.uow() as uow:
                await enqueue(
                    uow,
                    channel="wechat",
                    recipient="o-proc",
                    replies=[Reply("工作坊明天上午9点开始")],
                    idempotency_key="booking:1:remind",
                )
                await uow.commit()
            await engine.dispose()
            for _ in range(150):
                if api.of("/cgi-bin/message/custom/send", ok=True):
                    break
                await asyncio.sleep(0.2)
            (sent,) = api.of("/cgi-bin/message/custom/send", ok=True)
            assert sent.body["touser"] == "o-proc"
            assert sent.body["text"]["content"] == "工作坊明天上午9点开始"
            assert api.tokens_issued == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0
        log = err.decode()
        assert "o-proc" not in log and api.secret not in log and WX_TOKEN not in log
        assert "工作坊" not in log
