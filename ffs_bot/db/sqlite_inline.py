"""SQLite for the async engine, with statements run on the event loop's own thread.

aiosqlite hands every call (cursor, execute, fetch, close, commit) to a thread of its own and
back: several event-loop round trips per statement, each queued behind whatever else is ready
to run. Units of work on SQLite run one at a time (`ffs_bot.db.uow.Database`), so those round
trips were the length of every transaction and the ceiling on updates per second.

The statements themselves take microseconds: the database is a local file in WAL mode, and a
commit writes to the WAL without waiting for the disk (`synchronous=NORMAL`). So this dialect
runs them inline, with the standard `sqlite3` module, inside SQLAlchemy's greenlet. The one
thing that can take long is waiting for another process's write lock (`ffs-bot worker`, a CLI
command): `BEGIN IMMEDIATE` is first tried without waiting, and only when the lock is taken
does a worker thread wait for it (SQLite's busy timeout), leaving the event loop free. Once a
transaction holds the write lock, its statements do not wait for other connections.

What is given up: a slow statement (a large report) blocks the event loop for its duration
instead of only the other units of work, which waited for it anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

__all__ = ["DRIVER", "SQLiteInlineDialect", "register"]

DRIVER = "ffs_inline"


def register() -> None:
    """Make `sqlite+ffs_inline://` URLs available to `create_async_engine`."""
    registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteInlineDialect")


def _begin_waiting(dbapi_connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Take the write lock, waiting for it (in a worker thread) up to the busy timeout."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.execute("PRAGMA busy_timeout=0")
    finally:
        cursor.close()


async def _completed() -> None:
    """An awaitable that finishes at once."""


def _await_nothing() -> None:
    """Await, as an async driver does, without yielding to the event loop.

    `AsyncConnection.execute` refuses a statement during which nothing was awaited.
    """
    if in_greenlet():
        await_(_completed())


class _Cursor(sqlite3.Cursor):
    """A `sqlite3` cursor that SQLAlchemy's asyncio results can hand back."""

    async def _async_soft_close(self) -> None:
        # An async driver's cursor gives its rows up front; this one keeps them until read,
        # so it stays open until the result is consumed or closed.
        return None


class _Connection(sqlite3.Connection):
    """A `sqlite3` connection whose cursors are `_Cursor`s."""

    def cursor(self, factory: Any = _Cursor) -> Any:
        """Return a new cursor."""
        return super().cursor(factory)


class SQLiteInlineDialect(SQLiteDialect_pysqlite):
    """`sqlite3` as an async dialect: statements inline, only lock waits in a thread.

    Every transaction begins with `BEGIN IMMEDIATE` (taking the write lock up front), so a
    transaction that writes later cannot fail with "database is locked" half-way. The
    connection's busy timeout is 0: only `BEGIN IMMEDIATE` can meet another writer, and it
    waits for one off the event loop, for up to `busy_timeout_ms`.
    """

    driver = DRIVER
    is_async = True
    has_terminate = True
    supports_statement_cache = True

    def __init__(self, busy_timeout_ms: int = 30_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.busy_timeout_ms = busy_timeout_ms

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        """One shared connection for `:memory:`, a pool (that never blocks) for a file."""
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        """Connections are used from the event loop and, to wait for a lock, a thread."""
        args, kwargs = super().create_connect_args(url)
        kwargs["factory"] = _Connection
        kwargs["check_same_thread"] = False
        kwargs["timeout"] = 0
        # Transactions are begun here (`do_begin`), not by the driver.
        kwargs["isolation_level"] = None
        return args, kwargs

    def do_begin(self, dbapi_connection: Any) -> None:
        """Take the write lock; if another process holds it, wait for it in a thread."""
        raw: sqlite3.Connection = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            await_(asyncio.to_thread(_begin_waiting, raw, self.busy_timeout_ms))

    def do_execute(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        """Run a statement inline."""
        cursor.execute(statement, parameters)
        _await_nothing()

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        """Run a statement without parameters inline."""
        cursor.execute(statement)
        _await_nothing()

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        """Run a statement for many parameter sets inline."""
        cursor.executemany(statement, parameters)
        _await_nothing()

    def do_terminate(self, dbapi_connection: Any) -> None:
        """Closing a `sqlite3` connection needs no event loop."""
        dbapi_connection.close()
