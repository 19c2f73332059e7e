"""Claims across processes on PostgreSQL: one process at a time answers a chat, or polls.

A claim is a session-level advisory lock held on one connection of this process's own,
outside any transaction: it spans the step's commit and the network calls that send its
answer, which no row lock may, and a process that dies loses its claims with its connection.

Webhook replicas claim chat by chat (`ChatClaims`). A process that polls Telegram claims the
role of poller instead (`SoleRole`): Telegram hands updates to one poller at a time, so the
role's holder is the only process with updates to answer and needs no claim per chat.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import ARRAY, Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["POLLER", "SENDER", "ChatClaims", "ClaimTicket", "SoleRole"]

log = logging.getLogger(__name__)

# The first key of every chat's advisory lock: leaves the rest of the key space to others.
NAMESPACE = 0x0FF5C4A7
# The first key of the advisory locks of roles (one process at a time).
ROLE_NAMESPACE = 0x0FF5C4A8
# The role of the process that polls Telegram for updates.
POLLER = "telegram-poller"
# The outbox worker that sends: the channels' rate limits are per bot, not per process.
SENDER = "outbox-sender"
# How long to wait before asking again for a chat another process is answering.
RETRY_SECONDS = 0.01
# A process gone with its machine (or cut off by the network) closes nothing: the server
# keeps its session, and its claims, until TCP keepalive gives up, 2 h 11 min by the
# server's defaults here. Meanwhile every new message of those chats waits, each taking
# one of a live process's answering slots. So: probed after 10 s idle, ended after three
# unanswered probes 5 s apart (ignored over a Unix socket, where the server sees it go).
_KEEPALIVE = text(
    "SELECT set_config('tcp_keepalives_idle', '10', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '3', false)"
)
_TRY = text("SELECT pg_try_advisory_lock(:ns, :key)")
_ALIVE = text("SELECT 1")
_UNLOCK = text("SELECT pg_advisory_unlock(:ns, k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(Integer))
)


def chat_lock_key(channel: str, chat: str) -> int:
    """A stable 32-bit key for a chat (Python's hash() differs between processes)."""
    digest = hashlib.blake2b(f"{channel}:{chat}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class ClaimTicket:
    """What `put_down` returns: hand it to `release` once the chat's work is committed."""

    key: int
    generation: int


class ChatClaims:
    """Per-chat advisory locks of one process, taken one by one and released in batches.

    A claim this process already holds is taken again without a statement. Putting a claim
    down does not unlock it: `release` does, once the caller has committed that the chat's
    updates are done, so the next process to claim the chat never sees them as pending.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        # One statement at a time on the connection, and a consistent view of what is held.
        self._mutex = asyncio.Lock()
        self._users: dict[int, int] = {}
        self._generation: dict[int, int] = {}

    @staticmethod
    def for_engine(engine: AsyncEngine) -> ChatClaims | None:
        """Claims for a PostgreSQL engine; None on SQLite, which serves one process."""
        return ChatClaims(engine) if engine.dialect.name == "postgresql" else None

    @property
    def held(self) -> int:
        """How many chats this process holds a claim on."""
        return len(self._users)

    async def take(self, channel: str, chat: str, *, wait: bool = True) -> bool:
        """Claim a chat, waiting while another process holds it unless `wait` is False."""
        key = chat_lock_key(channel, chat)
        while True:
            async with self._mutex:
                if key in self._users:
                    self._users[key] += 1
                    self._generation[key] += 1
                    return True
                conn = await self._connection()
                try:
                    got = bool(await conn.scalar(_TRY, {"ns": NAMESPACE, "key": key}))
                except Exception:
                    await self._lose_connection()
                    raise
                if got:
                    self._users[key] = 1
                    self._generation[key] = self._generation.get(key, 0) + 1
                    return True
            if not wait:
                return False
            await asyncio.sleep(RETRY_SECONDS)

    def put_down(self, channel: str, chat: str) -> ClaimTicket:
        """Note that one user of a claim is finished; it stays locked until `release`."""
        key = chat_lock_key(channel, chat)
        if key in self._users:
            self._users[key] -= 1
        return ClaimTicket(key, self._generation.get(key, 0))

    async def release(self, tickets: list[ClaimTicket]) -> None:
        """Unlock the claims of `tickets` that nobody here took again since, in one statement."""
        async with self._mutex:
            keys = sorted(
                {
                    t.key
                    for t in tickets
                    if self._users.get(t.key) == 0 and self._generation.get(t.key) == t.generation
                }
            )
            if not keys or self._conn is None:
                return
            for key in keys:
                del self._users[key]
            try:
                await self._conn.execute(_UNLOCK, {"ns": NAMESPACE, "keys": keys})
            except Exception:
                # Closing the connection unlocks everything it held: the safe side.
                await self._lose_connection()
                raise

    async def close(self) -> None:
        """Drop every claim by closing the connection."""
        async with self._mutex:
            await self._lose_connection()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await _own_connection(self._engine)
        return self._conn

    async def _lose_connection(self) -> None:
        conn, self._conn = self._conn, None
        if self._users:
            log.warning("chat claims lost with their connection: %d chats", len(self._users))
        self._users.clear()
        if conn is not None:
            await _drop_connection(conn)


class SoleRole:
    """A role that one process at a time holds, such as polling Telegram (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self._engine = engine
        self._key = chat_lock_key("role", name)
        self.name = name
        self._conn: AsyncConnection | None = None
        self._held = False

    @staticmethod
    def for_engine(engine: AsyncEngine, name: str) -> SoleRole | None:
        """The role on a PostgreSQL engine; None on SQLite, which serves one process."""
        return SoleRole(engine, name) if engine.dialect.name == "postgresql" else None

    async def check(self) -> bool:
        """Whether this process holds the role, taking it if free; raises if unreachable.

        Held, it is confirmed with a round trip on its connection: a connection that
        died took the role with it, and the role is then taken again if still free.
        """
        if self._held:
            assert self._conn is not None
            try:
                await self._conn.execute(_ALIVE)
                return True
            except Exception:
                log.warning("the %s role was lost with its connection", self.name)
                await self.release()
        if self._conn is None:
            self._conn = await _own_connection(self._engine)
        try:
            self._held = bool(
                await self._conn.scalar(_TRY, {"ns": ROLE_NAMESPACE, "key": self._key})
            )
        except BaseException:
            await self.release()
            raise
        return self._held

    async def release(self) -> None:
        """Give the role up (another process may take it at once)."""
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            await _drop_connection(conn)


async def _own_connection(engine: AsyncEngine) -> AsyncConnection:
    """A connection outside the pool's reuse, in autocommit, with short TCP keepalives."""
    conn = await engine.connect()
    try:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(_KEEPALIVE)
    except BaseException:
        await _drop_connection(conn)
        raise
    return conn


async def _drop_connection(conn: AsyncConnection) -> None:
    try:
        # Invalidated, not closed: closing would hand the session, locks and all, back to
        # the pool.
        await conn.invalidate()
        await conn.close()
    except Exception:
        log.warning("closing a claims connection failed", exc_info=True)
