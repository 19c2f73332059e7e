"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from ffs_bot.db import sqlite_inline
from ffs_bot.files import private_dir, private_file

__all__ = ["POOL_SIZE", "create_engine", "create_session_factory"]

# How long a SQLite writer waits for another writer before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled PostgreSQL connection idle for longer than this is pinged before it is lent.
IDLE_PING_SECONDS = 5.0
# PostgreSQL connections one process keeps (the chat claims or the poller role take one).
POOL_SIZE = 10


def create_engine(url: str, *, echo: bool = False, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """Create an async engine, with the SQLite settings that keep concurrent writes safe.

    Whatever driver a SQLite URL names, statements run inline on the event loop's thread
    (`ffs_bot.db.sqlite_inline`); every transaction begins with `BEGIN IMMEDIATE`.
    A PostgreSQL engine keeps at most `pool_size` connections and no more: work beyond
    that waits for one to come back. The pool's usual overflow, connections opened for a
    burst and closed as soon as they are returned, opened one every 60 updates or so
    under steady load (417 in one 24,000-update benchmark run), each one a new server
    process with every statement prepared again.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = _create_async_engine(
            url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=0
        )
        _ping_when_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        database = Path(parsed.database)
        private_dir(database.parent)
        private_file(database)
        for journal in ("-wal", "-shm", "-journal"):
            if (made := database.with_name(database.name + journal)).exists():
                private_file(made)  # left by an older version, made before this rule
    sqlite_inline.register()
    engine = _create_async_engine(
        parsed.set(drivername=f"sqlite+{sqlite_inline.DRIVER}"),
        echo=echo,
        hide_parameters=True,
        busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS,
    )
    _configure_sqlite(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before lending it, but only one that sat idle a while.

    SQLAlchemy's `pool_pre_ping` pings at every checkout, and asyncpg's ping is three round
    trips (BEGIN, a query, ROLLBACK): more than the statements of most steps. A connection
    in steady use is known alive; one found dead in use raises a disconnection error, and
    the pool then replaces every connection made before it.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and lends another (a fresh one if need be).
            raise sa_exc.DisconnectionError() from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Use WAL and enforce foreign keys on every connection."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory every unit of work uses."""
    return async_sessionmaker(engine, expire_on_commit=False)
