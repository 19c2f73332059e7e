"""Reading the record ids that buttons carry, before any of them reaches a service."""

from __future__ import annotations

from ffs_bot.ids import MAX_ID, record_id

__all__ = ["MAX_ID", "payload_id", "record_id"]


def payload_id(payload: str, prefix: str) -> int | None:
    """The id a button's payload carries after `prefix`; None for any other payload.

    None is a button that is not ours or no longer means anything: the step answers it as a
    stale button, and nothing is read or written.
    """
    return record_id(payload[len(prefix) :]) if payload.startswith(prefix) else None
