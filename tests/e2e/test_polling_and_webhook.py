"""Receiving updates: long polling confirms only what is stored; the webhook checks secrets."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.web import SECRET_HEADER, TELEGRAM_PATH, create_web_app
from ffs_bot.db.engine import create_engine
from ffs_bot.db.tables import InboundUpdateRow
from tests.conftest import Backend
from tests.telegram_harness import TelegramHarness

SECRET = "s3cret-token_ABC"


async def wait_for(condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls a fake's record, no event to wait on
            await asyncio.sleep(0.01)


async def test_polling_confirms_updates_only_after_storing_them(
    backend: Backend, telegram: TelegramHarness, monkeypatch
) -> None:
    api = telegram.api
    api.queued = [api.text(7, "/start"), api.text(8, "/start"), api.text(7, "菜单")]
    real_store = telegram.channel._store
    failures = [RuntimeError("database down")]

    async def flaky_store(bodies):
        if failures:
            raise failures.pop()
        return await real_store(bodies)

    monkeypatch.setattr(telegram.channel, "_store", flaky_store)
    monkeypatch.setattr("bot.telegram.channel.sleep_unless", lambda stop, s: asyncio.sleep(0))
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    await wait_for(lambda: len(api.of("sendMessage")) == 3)
    await wait_for(lambda: len(api.of("getUpdates")) >= 3)
    stop.set()
    await poller
    offsets = [call.get("offset") for call in api.of("getUpdates")]
    # The failed store was not confirmed (the same batch was fetched again), then it was.
    assert offsets[:3] == [None, None, 4]
    assert [p["chat_id"] for p in api.of("sendMessage")].count(7) == 2
    assert api.of("deleteWebhook")  # polling replaces any webhook


async def test_the_next_poll_goes_out_before_a_batch_is_answered(
    backend: Backend, telegram: TelegramHarness, monkeypatch
) -> None:
    api = telegram.api
    api.sent_next_turn = True
    api.queued = [api.text(7, "/start"), api.text(8, "/start")]
    polls_when_answered: list[int] = []
    real_handle = backend.conversations.handle

    async def handle(inbound, **kwargs):
        polls_when_answered.append(len(api.of("getUpdates")))
        return await real_handle(inbound, **kwargs)

    monkeypatch.setattr(backend.conversations, "handle", handle)
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    await wait_for(lambda: len(api.of("sendMessage")) == 2)
    stop.set()
    await poller
    # The poll that confirms the batch was sent before any of the batch was answered: the
    # next batch does not wait for this one's work.
    assert polls_when_answered == [2, 2]
    assert [call.get("offset") for call in api.of("getUpdates")][:2] == [None, 3]


@pytest.fixture
async def webhook(backend: Backend, telegram: TelegramHarness):
    app = create_web_app(backend.engine, telegram.channel, SECRET)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_webhook_with_the_right_secret_is_stored_and_answered(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient
) -> None:
    update = telegram.api.text(9, "/start", "en")
    response = await webhook.post(TELEGRAM_PATH, json=update, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InboundUpdateRow)) == 1
    await telegram.channel.join()
    assert telegram.api.sent_to(9)[0]["text"].startswith("Hello!")
    # Telegram retrying the same update gets 200 and no second answer.
    again = await webhook.post(TELEGRAM_PATH, json=update, headers={SECRET_HEADER: SECRET})
    await telegram.channel.join()
    assert again.status == 200 and len(telegram.api.sent_to(9)) == 1


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_webhook_without_the_secret_is_refused_and_not_processed(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient, headers
) -> None:
    update = telegram.api.text(9, "/start")
    response = await webhook.post(TELEGRAM_PATH, json=update, headers=headers)
    assert response.status == 403
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InboundUpdateRow)) == 0


@pytest.mark.parametrize("secret", [b"\xff\xfe", b"\xed\xa0\x80", SECRET.encode() + b"\xff"])
async def test_a_secret_that_is_not_utf8_is_refused_not_an_error(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient, secret: bytes
) -> None:
    # Raw bytes on the wire: an HTTP client would not send them.
    reader, writer = await asyncio.open_connection(webhook.host, webhook.port)
    writer.write(
        b"POST " + TELEGRAM_PATH.encode() + b" HTTP/1.1\r\nHost: bot\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    await writer.drain()
    status = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status.split()[1] == b"403"
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InboundUpdateRow)) == 0


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe"]
)
async def test_a_malformed_webhook_body_gets_400(
    telegram: TelegramHarness, webhook: TestClient, body: bytes
) -> None:
    response = await webhook.post(TELEGRAM_PATH, data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 400


async def test_health_reports_the_database(backend: Backend) -> None:
    async with TestClient(TestServer(create_web_app(backend.engine))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}
        # Without a channel there is no webhook route.
        assert (await client.post(TELEGRAM_PATH, data=b"{}")).status in (404, 405)


async def test_health_says_so_when_the_database_is_unreachable(tmp_path) -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with TestClient(TestServer(create_web_app(engine))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert json.loads(await response.text())["database"] == "unreachable"
    finally:
        await engine.dispose()


async def test_polling_survives_telegram_refusing_and_network_errors(
    backend: Backend, telegram: TelegramHarness, monkeypatch
) -> None:
    api = telegram.api
    api.queued = [api.text(7, "/start")]
    api.fail_next("getUpdates", "409")  # another instance polling
    api.fail_next("getUpdates", "network")
    monkeypatch.setattr("bot.telegram.channel.sleep_unless", lambda stop, s: asyncio.sleep(0))
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    await wait_for(lambda: len(api.of("sendMessage")) == 1)
    stop.set()
    await poller
    assert [c.status for c in api.calls if c.method == "getUpdates"][:3] == [409, 0, 200]
