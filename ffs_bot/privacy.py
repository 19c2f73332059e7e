"""The privacy notice's version: bump it whenever the notice's text changes."""

from __future__ import annotations

__all__ = ["PRIVACY_CONSENT", "PRIVACY_NOTICE_VERSION"]

PRIVACY_NOTICE_VERSION = "2026-11"
PRIVACY_CONSENT = "privacy"
