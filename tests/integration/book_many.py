"""Book a workshop for many people from a process of its own; print their statuses as JSON.

Run by test_workshops.py on PostgreSQL, so two processes race for the same seats.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from ffs_bot.config import Settings, normalise_database_url
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.uow import Database
from ffs_bot.i18n import load_translators
from ffs_bot.services import workshops
from ffs_bot.workshop_notices import WorkshopNotifier

NOW = datetime(2027, 7, 1, 1, 0, tzinfo=UTC)


async def main(url: str, workshop_id: int, people: list[int]) -> None:
    engine = create_engine(normalise_database_url(url))
    db = Database(create_session_factory(engine))
    notify = WorkshopNotifier(load_translators(Settings().locales_dir))

    async def one(person: int) -> str:
        async with db.uow() as uow:
            made = await workshops.book(
                uow, notify, person_id=person, workshop_id=workshop_id, now=NOW
            )
            await uow.commit()
        return made.booking.status

    try:
        # Connect first, say so, and start only when told: the two processes really race.
        async with engine.connect():
            pass
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        statuses = await asyncio.gather(*(one(person) for person in people))
    finally:
        await engine.dispose()
    print(json.dumps(statuses))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]))
