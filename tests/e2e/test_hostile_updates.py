"""Hostile updates: refused with 400 or 403, or stored and finished once; never a 500."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web import SECRET_HEADER, TELEGRAM_PATH, create_web_app
from ffs_bot.db.tables import InboundUpdateRow
from ffs_bot.services.updates import pending_updates
from tests.conftest import Backend
from tests.telegram_harness import TelegramHarness

SECRET = "s3cret-token_ABC"


@pytest.fixture
async def webhook(backend: Backend, telegram: TelegramHarness):
    app = create_web_app(backend.engine, telegram.channel, SECRET)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _post(webhook: TestClient, body: bytes) -> int:
    response = await webhook.post(TELEGRAM_PATH, data=body, headers={SECRET_HEADER: SECRET})
    assert "Traceback" not in await response.text()
    return response.status


async def _rows(backend: Backend) -> list[InboundUpdateRow]:
    async with backend.db.uow() as uow:
        return list(await uow.session.scalars(select(InboundUpdateRow)))


def _text_update(telegram: TelegramHarness, **raw: str) -> bytes:
    """A text update whose ids are replaced by raw JSON (numbers Python's json reads)."""
    update = telegram.api.text(9, "菜单")
    text = json.dumps(update)
    for field, value in raw.items():
        text = text.replace(f'"{field}": 9', f'"{field}": {value}')
    return text.encode()


async def test_json_nested_ten_thousand_deep_gets_400(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient
) -> None:
    body = b'{"update_id": 5, "message": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert await _post(webhook, body) == 400
    assert await _rows(backend) == []


async def test_raw_bytes_in_the_secret_header_get_403(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient
) -> None:
    # aiohttp's client will not send such a header, so the request is written by hand.
    body = json.dumps(telegram.api.text(9, "菜单")).encode()
    reader, writer = await asyncio.open_connection(webhook.host, webhook.port)
    writer.write(
        b"POST " + TELEGRAM_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe" + SECRET.encode() + b"\x80\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] in (b"400", b"403")
    assert await _rows(backend) == []


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "1e400"},  # the person's id, as a float too big for one
        {"id": "Infinity"},
        {"id": "NaN"},
        {"id": "1e3"},
        {"id": str(10**40)},  # an integer no channel id is, too long for a column
        {"id": str(-(2**63) - 1)},
    ],
    ids=["1e400", "Infinity", "NaN", "float", "10^40", "-2^63-1"],
)
async def test_an_update_that_cannot_be_read_is_finished_once_with_a_note(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient, raw: dict[str, str]
) -> None:
    # Telegram retries what is not 2xx: an update it sent and we cannot read is acknowledged,
    # so it is neither retried by Telegram nor taken up again after every restart.
    body = _text_update(telegram, **raw)
    assert await _post(webhook, body) == 200
    await telegram.channel.join()
    assert telegram.api.of("sendMessage") == []
    (row,) = await _rows(backend)
    assert row.done_at is not None
    assert "cannot be read" in json.dumps(row.body)
    async with backend.db.uow() as uow:
        assert await pending_updates(uow, "telegram") == []
    # Sent again, it is known: 200, and nothing more happens.
    assert await _post(webhook, body) == 200
    await telegram.channel.join()
    assert len(await _rows(backend)) == 1


@pytest.mark.parametrize("update_id", [str(2**63), str(10**40), "-1", "1.5", "1e400"])
async def test_an_update_id_no_column_holds_gets_400(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient, update_id: str
) -> None:
    body = json.dumps(telegram.api.text(9, "菜单")).encode()
    body = body.replace(b'"update_id": 1', f'"update_id": {update_id}'.encode(), 1)
    assert update_id.encode() in body
    assert await _post(webhook, body) == 400
    assert await _rows(backend) == []


async def test_a_sound_update_after_the_hostile_ones_is_answered(
    backend: Backend, telegram: TelegramHarness, webhook: TestClient
) -> None:
    for body in (
        _text_update(telegram, id="Infinity"),
        b'{"update_id": 5, "message": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ):
        await _post(webhook, body)
    update: dict[str, Any] = telegram.api.text(9, "/start", "en")
    assert await _post(webhook, json.dumps(update).encode()) == 200
    await telegram.channel.join()
    assert telegram.api.sent_to(9)[0]["text"].startswith("Hello!")


async def test_polling_stores_an_unreadable_update_finished_and_goes_on(
    backend: Backend, telegram: TelegramHarness, monkeypatch
) -> None:
    api = telegram.api
    bad = json.loads(_text_update(telegram, id="1e400"))
    api.queued = [bad, api.text(7, "/start", "en")]
    monkeypatch.setattr("bot.telegram.channel.sleep_unless", lambda stop, s: asyncio.sleep(0))
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    async with asyncio.timeout(10):
        while not api.of("sendMessage") or len(api.of("getUpdates")) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    stop.set()
    await poller
    # Both confirmed with the first poll's offset; the sound one answered, the other noted.
    assert api.of("getUpdates")[1]["offset"] == bad["update_id"] + 2
    assert [p["chat_id"] for p in api.of("sendMessage")] == [7]
    rows = await _rows(backend)
    assert [row.body for row in rows if row.done_at is not None and "note" in row.body]
