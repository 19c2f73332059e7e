"""How to get there: typed once by a coordinator, shown to each reader in their language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from ffs_bot.db.tables import SeasonRow
from ffs_bot.model import Bilingual
from ffs_bot.services import workshops
from ffs_bot.services.seasons import create_season
from handlers.children import today
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_coordinator_chat import coordinator_chat

SEASON_PLACE = Bilingual("3号楼2楼，食堂旁边", "Building 3, 2nd floor, next to the canteen")
WORKSHOP_PLACE = Bilingual("食堂二楼培训室", "Training room, canteen 2nd floor")


async def _season(backend: Backend, place: Bilingual) -> None:
    year = today().year + 1
    async with backend.db.uow() as uow:
        await create_season(
            uow,
            factory_code="SZ01",
            starts_on=date(year, 7, 5),
            ends_on=date(year, 8, 20),
            min_age_years=3,
            max_age_years=12,
            capacity=10,
            registration_deadline=date(year, 6, 30),
            place=place,
        )
        await uow.commit()


async def _workshop(backend: Backend, place: Bilingual) -> int:
    start = datetime.now(UTC) + timedelta(days=3)
    async with backend.db.uow() as uow:
        made = await workshops.create_workshop(
            uow,
            factory_code="SZ01",
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            topic="Calling home",
            language="zh_Hans",
            capacity=10,
            place=place,
        )
        await uow.commit()
    return made.id


async def _what_a_worker_reads(backend: Backend, language: str, workshop_id: int) -> str:
    chat = Chat(backend.conversations, user=f"worker-{language}")
    await chat.onboard(language=language)
    await chat.press("summer")
    season = chat.text
    await chat.send("menu")
    await chat.press("ws")
    await chat.press(f"ws:open:{workshop_id}")
    return season + "\n" + chat.text


@pytest.mark.parametrize(("language", "other"), [("zh_Hans", "en"), ("en", "zh_Hans")])
async def test_each_reader_sees_the_place_in_their_language_only(
    backend: Backend, language: str, other: str
) -> None:
    await seed_factories(backend.db)
    await _season(backend, SEASON_PLACE)
    workshop_id = await _workshop(backend, WORKSHOP_PLACE)
    text = await _what_a_worker_reads(backend, language, workshop_id)
    for place in (SEASON_PLACE, WORKSHOP_PLACE):
        assert place.pick(language) in text
        assert place.pick(other) not in text


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_a_place_written_in_one_language_is_shown_to_readers_of_both(
    backend: Backend, language: str
) -> None:
    await seed_factories(backend.db)
    await _season(backend, Bilingual(zh="3号楼2楼"))
    workshop_id = await _workshop(backend, Bilingual(en="Training room"))
    text = await _what_a_worker_reads(backend, language, workshop_id)
    assert "3号楼2楼" in text and "Training room" in text


async def _place_of_season(backend: Backend) -> tuple[str, str]:
    async with backend.db.uow() as uow:
        season = await uow.session.scalar(select(SeasonRow))
    assert season is not None
    return season.place, season.place_en


async def test_a_coordinator_types_the_place_once_and_its_english_or_skips_it(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = await coordinator_chat(backend)
    await chat.press("staff")
    await chat.press("st:new")
    for answer in ("7/5-8/20", "3-12", "25", "6/30"):
        await chat.send(answer)
    # Both in one line: split, and the English is not asked again.
    await chat.send("3号楼2楼，食堂旁边 / Building 3, 2nd floor")
    assert "Who pays?" in chat.text
    await chat.send("-")
    assert "Place: Building 3, 2nd floor" in chat.text and "3号楼" not in chat.text
    assert await _place_of_season(backend) == ("3号楼2楼，食堂旁边", "Building 3, 2nd floor")
    # Chinese alone: the English is asked, and a button skips it.
    await chat.press("st:edit")
    await chat.press("st:field:place")
    await chat.send("礼堂")
    assert "And in English" in chat.text and "st:place_en:skip" in chat.payloads
    await chat.press("st:place_en:skip")
    assert "Saved." in chat.text and "Place: 礼堂" in chat.text
    assert await _place_of_season(backend) == ("礼堂", "")
    await chat.press("st:edit")
    await chat.press("st:field:place")
    await chat.send("礼堂")
    await chat.send("The hall")
    assert "Place: The hall" in chat.text
    assert await _place_of_season(backend) == ("礼堂", "The hall")
    # English alone serves readers of both: nothing more is asked.
    await chat.press("st:edit")
    await chat.press("st:field:place")
    await chat.send("Hall B")
    assert "Saved." in chat.text
    assert await _place_of_season(backend) == ("Hall B", "")
