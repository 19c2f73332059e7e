"""The unit of work: one transaction that rolls back unless `commit()` is called."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["Database", "UnitOfWork"]


class UnitOfWork:
    """One transaction; services read and write through `session`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lock: asyncio.Lock | None = None,
        dialect: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._lock = lock
        self._dialect = dialect
        self._session: AsyncSession | None = None
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        """The open session; only valid inside `async with`."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    @property
    def dialect(self) -> str:
        """The database engine's name: 'sqlite' or 'postgresql'."""
        if self._dialect is None:
            self._dialect = self.session.get_bind().dialect.name
        return self._dialect

    async def __aenter__(self) -> Self:
        if self._lock is not None:
            await self._lock.acquire()
        self._session = self._sessions()
        self.committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed; unlike rollback() it leaves loaded
        # records readable, so callers may use what they read after the block.
        session = self.session
        self._session = None
        try:
            await session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        """Make everything done in this unit of work permanent."""
        await self.session.commit()
        self.committed = True


class Database:
    """The engine's session factory, handing out units of work.

    On SQLite every transaction takes the write lock when it begins, and a waiting
    transaction sleeps in SQLite's busy handler (1, 2, 5, 10 ... 100 ms), so under load
    most time goes to sleeping. Within one process the units of work therefore queue on an
    asyncio lock instead, and the next one starts the moment the last one ends. Other
    processes still meet SQLite's own lock and wait for it.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        bind = sessions.kw.get("bind")
        self._dialect = bind.dialect.name if isinstance(bind, AsyncEngine) else None
        self._lock = asyncio.Lock() if self._dialect == "sqlite" else None

    def uow(self) -> UnitOfWork:
        """Return a new unit of work."""
        return UnitOfWork(self.sessions, self._lock, self._dialect)
