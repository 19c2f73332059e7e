"""The same Telegram update delivered three times, by polling or webhook: one effect."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.web import SECRET_HEADER, TELEGRAM_PATH, create_web_app
from ffs_bot.db.tables import BookingRow, InboundUpdateRow
from tests.conftest import Backend
from tests.e2e.test_polling_and_webhook import SECRET, wait_for
from tests.helpers import Chat, seed_factories
from tests.integration.test_workshop_chat import plan
from tests.telegram_harness import TelegramHarness

WORKER = 6001


async def ready_to_book(backend: Backend) -> int:
    """A Telegram user at a workshop's page, one press away from booking it."""
    await seed_factories(backend.db)
    workshop_id = await plan(backend, capacity=5)
    chat = Chat(backend.conversations, user=str(WORKER), channel="telegram")
    await chat.onboard()
    await chat.press("ws")
    await chat.press(f"ws:open:{workshop_id}")
    assert "ws:book" in chat.payloads, chat.text
    return workshop_id


async def effects(backend: Backend) -> tuple[int, int]:
    async with backend.db.uow() as uow:
        bookings = await uow.session.scalar(select(func.count()).select_from(BookingRow))
        stored = await uow.session.scalar(select(func.count()).select_from(InboundUpdateRow))
    return int(bookings or 0), int(stored or 0)


def answers(telegram: TelegramHarness) -> list[str]:
    return [call["text"] for call in telegram.api.sent_to(WORKER)]


async def test_a_booking_polled_three_times_is_made_and_answered_once(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await ready_to_book(backend)
    api = telegram.api
    book = api.press(WORKER, "ws:book", message_id=1, language_code="en")
    original = api._answer

    def redeliver(method, params):
        # Twice in a batch, and again in the next two polls, as when our offset did not
        # reach Telegram.
        if method == "getUpdates" and len(api.of("getUpdates")) <= 3:
            params = {**params, "offset": 0}
            api.queued = [book, book]
        return original(method, params)

    api._answer = redeliver  # type: ignore[method-assign]
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.channel.poll(stop))
    await wait_for(lambda: len(api.of("getUpdates")) >= 5)
    stop.set()
    await poller
    await telegram.channel.join()
    sent = answers(telegram)
    assert len(sent) == 1 and "Booked" in sent[0], sent
    assert len(api.of("answerCallbackQuery")) == 1
    assert await effects(backend) == (1, 1)


async def test_a_booking_posted_three_times_at_once_is_made_and_answered_once(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await ready_to_book(backend)
    book = telegram.api.press(WORKER, "ws:book", message_id=1, language_code="en")
    app = create_web_app(backend.engine, telegram.channel, SECRET)
    async with TestClient(TestServer(app)) as client:
        concurrent = await asyncio.gather(
            *(
                client.post(TELEGRAM_PATH, json=book, headers={SECRET_HEADER: SECRET})
                for _ in range(3)
            )
        )
        await telegram.channel.join()
        later = await client.post(TELEGRAM_PATH, json=book, headers={SECRET_HEADER: SECRET})
        await telegram.channel.join()
    assert [r.status for r in (*concurrent, later)] == [200] * 4
    sent = answers(telegram)
    assert len(sent) == 1 and "Booked" in sent[0], sent
    assert len(telegram.api.of("answerCallbackQuery")) == 1
    assert await effects(backend) == (1, 1)
