"""Startup objects are left out of the garbage collector's later passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.heap import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_objects_alive_at_startup_are_not_walked_by_later_collections(unfrozen: None) -> None:
    built_at_startup = [object()]
    settle_heap()
    made_later = [object()]
    tracked = gc.get_objects()
    assert not any(o is built_at_startup for o in tracked)
    assert any(o is made_later for o in tracked)
