"""The privacy notice's version: bump it whenever the notice's text changes."""

from __future__ import annotations

__all__ = [
    "CHILD_CONSENT",
    "CHILD_NOTICE_VERSION",
    "HEALTH_CONSENT",
    "PRIVACY_CONSENT",
    "PRIVACY_NOTICE_VERSION",
]

PRIVACY_NOTICE_VERSION = "2026-11"
PRIVACY_CONSENT = "privacy"
# A guardian's consent to keep a child's data, and the separate one for health notes.
CHILD_NOTICE_VERSION = "2026-11"
CHILD_CONSENT = "child_data"
HEALTH_CONSENT = "child_health"
