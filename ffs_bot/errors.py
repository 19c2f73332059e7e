"""Domain errors raised by services.

FfsError
 ├── NotFound          a factory, person or record that does not exist
 ├── InvalidInput      input a person or operator gave that breaks a rule
 ├── ConflictError     the request contradicts what is already stored
 ├── Forbidden         a staff action outside the person's role or factories
 └── TooManyTries      too many wrong secrets typed lately: wait until `until`
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["ConflictError", "FfsError", "Forbidden", "InvalidInput", "NotFound", "TooManyTries"]


class FfsError(Exception):
    """Base of every error the core raises on purpose."""


class NotFound(FfsError):
    """A record that was asked for does not exist."""


class InvalidInput(FfsError):
    """Input that breaks a rule; the message says which."""


class ConflictError(FfsError):
    """The request contradicts what is already stored."""


class Forbidden(FfsError):
    """The person may not do this: no staff role, or not for this factory."""


class TooManyTries(FfsError):
    """Too many wrong codes typed lately; nothing is checked until `until` (UTC)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"wait until {until.isoformat()}")
        self.until = until
