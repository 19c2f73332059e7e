"""Telling a database that cannot be reached from a statement that went wrong."""

from __future__ import annotations

import errno
import socket

from sqlalchemy import exc as sa_exc

__all__ = ["RETRY_FIRST", "RETRY_MAX", "is_unavailable", "retry_delay"]

# SQLite's words for a database another process holds or the disk refuses; its other
# OperationalErrors ("no such table") will not heal by waiting.
_NETWORK_DOWN = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})
_SQLITE_TRANSIENT = (
    "database is locked",
    "database is busy",
    "unable to open database file",
    "disk i/o error",
)


# Waits between attempts while the database cannot be reached: doubling, up to the last.
RETRY_FIRST = 0.5
RETRY_MAX = 5.0


def retry_delay(failures: int) -> float:
    """How long to wait after `failures` failed attempts in a row (at least one)."""
    return min(RETRY_FIRST * 2.0 ** (max(failures, 1) - 1), RETRY_MAX)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now (worth trying again later).

    True for a refused or lost connection (PostgreSQL down, restarting or cut off), a pool
    with no connection to give, and a SQLite file locked or unreadable; False for anything
    a retry would only repeat (a bug, a constraint, a missing table).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa_exc.InterfaceError):
            return True
        if isinstance(error, sa_exc.OperationalError):
            if type(error.orig).__module__.startswith("sqlite3"):
                return str(error.orig).lower().startswith(_SQLITE_TRANSIENT)
            # PostgreSQL's classes 08, 53, 57 and 58: connection, resources, shutdown.
            return True
        return False
    # The pool waited in vain, or the driver could not open a connection at all.
    if isinstance(error, sa_exc.TimeoutError | ConnectionError | TimeoutError | socket.gaierror):
        return True
    return isinstance(error, OSError) and error.errno in _NETWORK_DOWN
