"""A signed (timestamp, nonce) pair is bound to the first body it came with, for every replica."""

from __future__ import annotations

import asyncio

from ffs_bot.services.signed_requests import bind
from tests.conftest import Backend


async def bind_once(backend: Backend, channel: str, stamp: int, nonce: str, digest: str) -> bool:
    async with backend.db.uow() as uow:
        fresh = await bind(uow, channel, stamp, nonce, digest)
        await uow.commit()
    return fresh


async def test_a_pair_takes_its_first_body_again_and_no_other(backend: Backend) -> None:
    assert await bind_once(backend, "wechat", 1_700_000_000, "n1", "a" * 64)
    # The channel's own retry: the same body under the same pair.
    assert await bind_once(backend, "wechat", 1_700_000_000, "n1", "a" * 64)
    assert not await bind_once(backend, "wechat", 1_700_000_000, "n1", "b" * 64)
    # Another nonce, another time, or another channel is another pair.
    assert await bind_once(backend, "wechat", 1_700_000_000, "n2", "b" * 64)
    assert await bind_once(backend, "wechat", 1_700_000_001, "n1", "b" * 64)
    assert await bind_once(backend, "other", 1_700_000_000, "n1", "b" * 64)


async def test_of_concurrent_first_uses_with_different_bodies_one_wins(backend: Backend) -> None:
    digests = [str(i) * 64 for i in range(6)]
    won = await asyncio.gather(
        *(bind_once(backend, "wechat", 1_700_000_000, "race", d) for d in digests)
    )
    assert sum(won) == 1
    winner = digests[won.index(True)]
    assert await bind_once(backend, "wechat", 1_700_000_000, "race", winner)
