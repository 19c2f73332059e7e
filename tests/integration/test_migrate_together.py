"""Processes started together on an empty PostgreSQL database migrate it one at a time."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from ffs_bot.config import normalise_database_url
from ffs_bot.db.engine import create_engine
from ffs_bot.db.migrate import current_revision, head_revision, upgrade
from tests.conftest import POSTGRES_ENV, _pg_admin


async def test_three_processes_migrating_an_empty_database_at_once_all_succeed() -> None:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}; SQLite serves one process")
    name = f"ffs_migrate_{uuid.uuid4().hex[:12]}"
    await _pg_admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(normalise_database_url(server)).set(database=name)
    engines = [create_engine(url.render_as_string(hide_password=False)) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()
        await _pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
