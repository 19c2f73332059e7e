"""Demo programme data, loaded by `ffs-bot demo` into an empty database."""

from __future__ import annotations

from importlib.resources import files

from ffs_bot.db.uow import UnitOfWork
from ffs_bot.services.factories import (
    ImportReport,
    count_factories,
    import_factories,
    parse_factory_csv,
)

__all__ = ["load_demo"]


async def load_demo(uow: UnitOfWork, default_timezone: str) -> ImportReport | None:
    """Load the demo factories if there are no factories yet; return what was loaded."""
    if await count_factories(uow):
        return None
    text = files("ffs_bot.demo").joinpath("factories.csv").read_text(encoding="utf-8")
    factories, errors = parse_factory_csv(text, default_timezone)
    if errors:
        raise ValueError(f"demo data is broken: {errors}")
    return await import_factories(uow, factories)
