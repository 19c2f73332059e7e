"""Logging that keeps names, phone numbers, message texts, tokens and secrets out.

Three guards, all in one filter on the handler so they hold for every logger:
- libraries that log request URLs (Telegram's carry the bot token) or, at DEBUG or INFO, the
  parameters of Bot API calls or SQL statements (names, message texts) are held to a floor;
- the configured secrets are blanked wherever they still appear;
- an exception's message is shown only where it cannot quote what a person typed: errors
  of the network, Telegram's descriptions, and database errors' statement (placeholders, no
  values) with the failure when it is a known one; any other (a KeyError, a ValueError,
  our own) logs only its type and where it was raised.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import IO

from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError

from ffs_bot.config import Settings

__all__ = ["LogGuard", "configure_logging", "secrets_of"]

# Never below these levels, whatever FFS_LOG_LEVEL says. aiohttp's access log holds query
# strings (a WeChat OpenID is one); the proxy in front keeps its own access log.
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "sqlalchemy": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "wechatpy": logging.INFO,
}
# Database errors whose first line names the failure and holds no values (a check
# constraint's DETAIL, a trigger's message or a refused parameter may quote a row).
_DATABASE_FAILURES = (
    "database is locked",
    "no such table",
    "no such column",
    "disk i/o error",
    "unique constraint failed",
    "foreign key constraint failed",
    "duplicate key value violates",
    "deadlock detected",
    "could not serialize access",
    "canceling statement",
    "terminating connection",
    "connection is closed",
    "cannot perform operation",
)
_WITHHELD = "[message withheld]"
_REDACTED = "[redacted]"
# Shorter values would blank ordinary words; secrets are longer than this.
_MIN_SECRET = 6


def secrets_of(settings: Settings) -> list[str]:
    """The secret values in `settings`: tokens, keys and the database password."""
    found: list[str] = []
    for value in settings.__dict__.values():
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            found.append(secret)
            # A Telegram token is "<bot id>:<key>"; the key alone is as secret.
            found.append(secret.partition(":")[2])
    if settings.database_url:
        found.append(make_url(settings.database_url).password or "")
    return [value for value in found if len(value) >= _MIN_SECRET]


def _floor(name: str) -> int:
    while name:
        if name in QUIET_LOGGERS:
            return QUIET_LOGGERS[name]
        name = name.rpartition(".")[0]
    return logging.NOTSET


def _describe(exc: BaseException) -> str:
    """What an exception says, when that cannot be something a person typed."""
    if isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith("telegram."):
        # The network's own words, and Telegram's descriptions of a refused call.
        return str(exc)
    if isinstance(exc, StatementError):
        cause = exc.orig if exc.orig is not None else exc
        first = str(cause).strip().partition("\n")[0]
        said = first if first.lower().startswith(_DATABASE_FAILURES) else _WITHHELD
        # The statement has placeholders, never values (parameters are bound and hidden).
        return f"{said} [SQL: {' '.join(str(exc.statement).split())}]"
    return _WITHHELD


def _exception_text(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
) -> str:
    """The traceback, with each message dropped unless its type is known to tell no data."""
    lines: list[str] = []
    exc: BaseException | None = exc_info[1]
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    for position, current in enumerate(reversed(chain)):
        if position:
            lines.append("\nwhich led to:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(current.__traceback__))
        name = f"{type(current).__module__}.{type(current).__qualname__}"
        lines.append(f"{name}: {_describe(current)}\n")
    return "".join(lines).rstrip("\n")


class LogGuard(logging.Filter):
    """Drops what noisy libraries log below their floor; formats the rest safely."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a token is blanked whole before its key alone is looked for.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True
        )

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record if its logger may log at its level, with its text made safe."""
        if record.levelno < _floor(record.name):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record, nor show its args
            message = f"{record.msg!s} [arguments withheld]"
        record.msg, record.args = self._clean(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._clean(_exception_text(record.exc_info))
        elif record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def configure_logging(
    level: str, *, stream: IO[str] | None = None, secrets: Iterable[str] = ()
) -> logging.Handler:
    """Log to `stream` (stderr) at `level` through a `LogGuard`; return the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(LogGuard(secrets))
    root = logging.getLogger()
    root.setLevel(level.upper())
    root.addHandler(handler)
    # Not even made: records below the floor cost time to build and are dropped anyway.
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    return handler
