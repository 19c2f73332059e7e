"""Domain errors raised by services.

FfsError
 ├── NotFound          a factory, person or record that does not exist
 ├── InvalidInput      input a person or operator gave that breaks a rule
 ├── ConflictError     the request contradicts what is already stored
 └── Forbidden         a staff action outside the person's role or factories
"""

from __future__ import annotations

__all__ = ["ConflictError", "FfsError", "Forbidden", "InvalidInput", "NotFound"]


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
