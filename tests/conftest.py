"""Shared fixtures: catalogs, and databases on SQLite always and PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ffs_bot.config import normalise_database_url
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.tables import Base
from ffs_bot.db.uow import Database
from ffs_bot.i18n import Translator, load_translators
from ffs_bot.notices import FamilyNotifier
from handlers.engine import ConversationEngine, build_router

# PTB's coming behaviour, as the service opts into it (bot/telegram/factory.py).
os.environ.setdefault("PTB_TIMEDELTA", "1")

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
POSTGRES_ENV = "FFS_TEST_POSTGRES_URL"


BLNS_FILE = REPO.parent / "shared" / "data" / "blns" / "blns.json"
BLNS_COUNT = 515


@pytest.fixture(scope="session")
def naughty_strings() -> list[str]:
    """The Big List of Naughty Strings, from ../shared (skipped where it is not there)."""
    if not BLNS_FILE.is_file():
        pytest.skip(f"the Big List of Naughty Strings is not at {BLNS_FILE}")
    strings = json.loads(BLNS_FILE.read_text(encoding="utf-8"))
    assert len(strings) == BLNS_COUNT
    assert all(isinstance(s, str) for s in strings)
    return strings


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine with no font that has Chinese glyphs: charts cannot be drawn."""
    from ffs_bot import charts, fonts

    monkeypatch.setattr(fonts, "DEBIAN_FILES", (tmp_path / "missing.ttc",))
    monkeypatch.setattr(fonts, "FONT_FOLDERS", (str(tmp_path),))
    fonts.cjk_font_file.cache_clear()
    charts.cjk_font_family.cache_clear()
    yield
    fonts.cjk_font_file.cache_clear()
    charts.cjk_font_family.cache_clear()


@pytest.fixture(scope="session")
def translators() -> dict[str, Translator]:
    return load_translators(LOCALES)


def _admin_url(url: str) -> str:
    return normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/postgres)"
        )
    name = f"ffs_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(server, f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_database_url(server)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@asynccontextmanager
async def own_postgres_database(purpose: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for real processes, dropped after; else a skip."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(
            f"{purpose} needs PostgreSQL: set {POSTGRES_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1/postgres)"
        )
    name = f"ffs_own_{uuid.uuid4().hex[:12]}"
    await _pg_admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(normalise_database_url(server)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await _pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_PG_MIGRATED: set[str] = set()


async def _fresh_postgres(url: str) -> AsyncEngine:
    engine = create_engine(url)
    if url not in _PG_MIGRATED:
        await upgrade(engine)
        _PG_MIGRATED.add(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return engine


@dataclass
class Backend:
    """A migrated, empty database and what the conversation engine needs on top of it."""

    name: str
    url: str
    engine: AsyncEngine
    db: Database
    conversations: ConversationEngine
    notify: FamilyNotifier


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend_name == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'ffs.db'}"


@pytest.fixture
async def backend(
    backend_name: str, database_url: str, translators: dict[str, Translator]
) -> AsyncIterator[Backend]:
    if backend_name == "postgresql":
        engine = await _fresh_postgres(database_url)
    else:
        engine = create_engine(database_url)
        await upgrade(engine)
    db = Database(create_session_factory(engine))
    notify = FamilyNotifier(translators)
    conversations = ConversationEngine(db.uow, translators, build_router(), notify)
    try:
        yield Backend(backend_name, database_url, engine, db, conversations, notify)
    finally:
        await engine.dispose()


@pytest.fixture
def db(backend: Backend) -> Database:
    return backend.db


@pytest.fixture
async def telegram(backend: Backend, translators: dict[str, Translator]):
    from tests.telegram_harness import start_harness

    harness = await start_harness(backend, translators)
    try:
        yield harness
    finally:
        await harness.channel.stop()
