"""The privacy notice's version and the consents recorded against it.

Bump `PRIVACY_NOTICE_VERSION` whenever the notice's text changes: everyone who agreed to an
earlier version is asked again at their next message, before anything else.
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "CHILD_CONSENT",
    "CHILD_NOTICE_VERSION",
    "DEFAULT_RETENTION_DAYS",
    "HEALTH_CONSENT",
    "PRIVACY_CONSENT",
    "PRIVACY_NOTICE_VERSION",
    "renewal_due",
]

PRIVACY_NOTICE_VERSION = "2026-12"
PRIVACY_CONSENT = "privacy"
# A guardian's consent to keep a child's data, and the separate one for health notes.
CHILD_NOTICE_VERSION = "2026-11"
CHILD_CONSENT = "child_data"
HEALTH_CONSENT = "child_health"
# Children's data is erased this many days after their last season ends (FFS_RETENTION_DAYS).
DEFAULT_RETENTION_DAYS = 90


class _Consenting(Protocol):
    @property
    def privacy_version(self) -> str | None: ...


def renewal_due(person: _Consenting) -> bool:
    """Whether the person agreed to an earlier privacy notice than the current one."""
    # The version agreed to travels with the person's row: no query on every message.
    return person.privacy_version is not None and person.privacy_version != PRIVACY_NOTICE_VERSION
