"""Alembic environment: runs on the connection `ffs_bot.db.migrate` hands over."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from ffs_bot.db.engine import create_engine
from ffs_bot.db.tables import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    # Migrations must not import application types that may change later.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run 'ffs-bot db upgrade'")
else:
    # Plain `alembic` command line use by developers (e.g. `alembic revision --autogenerate`).
    from ffs_bot.config import Settings

    asyncio.run(_run_standalone(Settings().sqlalchemy_url))
