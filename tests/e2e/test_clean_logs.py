"""A full conversation logged at DEBUG holds no name, phone number, message text or secret."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.logs import QUIET_LOGGERS, LogGuard, configure_logging, secrets_of
from bot.web import SECRET_HEADER, TELEGRAM_PATH, create_web_app
from ffs_bot.config import Settings
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.telegram_harness import start_harness

TOKEN = "735512:AAFq-Distinctive_TokenKey9x"
WEBHOOK_SECRET = "hook-Secret_Zx81pQ"
NAME = "欧阳翠花"
TELEGRAM_NAME = "Qiaoxiu"
PHONE = "13987654321"
WORDS = "purple giraffes dance at midnight"
WORKER = 6001


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """Everything every logger says at DEBUG, through the service's own logging set-up."""
    stream = io.StringIO()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ["", *QUIET_LOGGERS]}
    settings = Settings(
        TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET, _env_file=None
    )
    handler = configure_logging("DEBUG", stream=stream, secrets=secrets_of(settings))
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name or None).setLevel(level)


def named(update: dict) -> dict:
    """The update as it comes from a person whose Telegram profile carries their name."""
    for key in ("message", "callback_query"):
        if key in update:
            update[key]["from"]["first_name"] = TELEGRAM_NAME
    return update


async def test_a_whole_conversation_logs_nothing_personal_or_secret(
    backend: Backend, translators, log: io.StringIO
) -> None:
    await seed_factories(backend.db)
    telegram = await start_harness(backend, translators, token=TOKEN)
    api = telegram.api
    try:
        for update in (
            api.text(WORKER, "/start f-SZ01"),
            api.press(WORKER, "lang:zh_Hans"),
            api.press(WORKER, "consent:yes"),
            api.text(WORKER, NAME),
            api.text(WORKER, f"{WORDS} {PHONE}"),
            api.text(WORKER, f"我想死 {WORDS}"),  # a safeguarding alert on the way
        ):
            await telegram.deliver(named(update))
        assert any(NAME in sent["text"] for sent in api.of("sendMessage"))

        # One message fails: the database refuses to store its answer, quoting it.
        await _break(backend)
        await telegram.deliver(named(api.press(WORKER, "account")))
        assert "出了点问题" in api.sent_to(WORKER)[-1]["text"]
        await _mend(backend)

        # An update through the webhook, which checks the secret header.
        app = create_web_app(backend.engine, telegram.channel, WEBHOOK_SECRET)
        async with TestClient(TestServer(app)) as client:
            answer = await client.post(
                TELEGRAM_PATH,
                json=named(api.text(WORKER, f"{WORDS} again")),
                headers={SECRET_HEADER: WEBHOOK_SECRET},
            )
            assert answer.status == 200
            await telegram.channel.join()
    finally:
        await telegram.channel.stop()

    # The console too, with the engine the service builds.
    console = Chat(backend.conversations, user="console-worker", language_code="en")
    await console.onboard(name=NAME)
    await console.send(f"{PHONE} {WORDS}")

    written = log.getvalue()
    assert "step failed on channel telegram" in written  # the failure was logged,
    assert "[message withheld]" in written and "Traceback" in written  # with its trace
    for value in (NAME, TELEGRAM_NAME, PHONE, "giraffe", TOKEN, "Distinctive_TokenKey9x"):
        assert value not in written, value
    assert WEBHOOK_SECRET not in written


async def _break(backend: Backend) -> None:
    statements = (
        [
            # SQLite's RAISE takes a literal only: the values, as a message quoting a row would.
            "CREATE TRIGGER broken BEFORE INSERT ON processed_inbound "
            f"BEGIN SELECT RAISE(ABORT, 'refused: {NAME} {PHONE}'); END"
        ]
        if backend.name == "sqlite"
        else [
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'refused: %', NEW.replies; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER broken BEFORE INSERT ON processed_inbound "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    )
    async with backend.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _mend(backend: Backend) -> None:
    statements = (
        ["DROP TRIGGER broken"]
        if backend.name == "sqlite"
        else ["DROP TRIGGER broken ON processed_inbound", "DROP FUNCTION refuse()"]
    )
    async with backend.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


def test_the_guard_blanks_secrets_and_withholds_what_may_quote_a_person() -> None:
    guard = LogGuard([TOKEN])
    try:
        raise KeyError(PHONE)
    except KeyError:
        record = logging.LogRecord(
            "bot.x", logging.ERROR, __file__, 1, "calling %s", (f"/bot{TOKEN}/x",), None
        )
        record.exc_info = sys.exc_info()
    assert guard.filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted and PHONE not in formatted
    assert "calling /bot[redacted]/x" in formatted and "KeyError: [message withheld]" in formatted
    noisy = logging.LogRecord("telegram._bot", logging.DEBUG, __file__, 1, "x", None, None)
    assert not guard.filter(noisy)
