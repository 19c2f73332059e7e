"""Importing and finding factories."""

from __future__ import annotations

from ffs_bot.services.factories import (
    FactoryInput,
    get_factory_by_code,
    import_factories,
    list_factories,
    search_factories,
)
from tests.conftest import Backend
from tests.helpers import seed_factories


async def test_reimport_updates_by_code(backend: Backend) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        report = await import_factories(
            uow,
            [
                FactoryInput("SZ01", "深圳新名字", "New Name", "深圳", "Asia/Hong_Kong"),
                FactoryInput("NEW1", "新厂", "New Factory", "", "Asia/Shanghai"),
            ],
        )
        await uow.commit()
    assert (report.created, report.updated) == (1, 1)
    async with backend.db.uow() as uow:
        factories = await list_factories(uow)
        sz01 = await get_factory_by_code(uow, "sz01")
    assert len(factories) == 5
    assert sz01 is not None
    assert (sz01.name_en, sz01.timezone) == ("New Name", "Asia/Hong_Kong")


async def test_search_matches_code_names_and_city_and_counts_all(backend: Backend) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        by_city, total = await search_factories(uow, "深圳", 1)
        by_english, _ = await search_factories(uow, "rainbow", 5)
        nothing, none = await search_factories(uow, "   ", 5)
    assert ([f.code for f in by_city], total) == (["SZ01"], 2)
    assert [f.code for f in by_english] == ["DG01"]
    assert (nothing, none) == ([], 0)
