"""Bring a database's schema up to date with the Alembic migrations shipped in the package.

Every command and process upgrades as it starts; almost always the schema is current already.
That is read from `alembic_version` in one statement, and Alembic (with Mako and its
templates: a sixth of a second) is imported only when there is something to migrate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["SCHEMA_REVISION", "alembic_config", "current_revision", "head_revision", "upgrade"]

# The newest migration's revision: what a current database holds. A test checks it against
# Alembic's own head, so a new migration without it here fails there.
SCHEMA_REVISION = "0016"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The advisory lock that serialises migrations on PostgreSQL (any fixed 64-bit number).
MIGRATION_LOCK = 0x0FF5_0000_0001


def alembic_config() -> Config:
    """Return an Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    """Return the newest migration's revision id, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration up to `revision`, in one transaction where the engine allows."""
    if revision == "head" and await _stored_revision(engine) == SCHEMA_REVISION:
        return

    def _upgrade(conn: Connection) -> None:
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Replicas and workers started together migrate one after the other: the later
            # ones find the schema current. The lock ends with the transaction.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""

    def _current(conn: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """The revision in `alembic_version`, or None where there is none (a new database)."""
    try:
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            versions = found.scalars().all()
    except DBAPIError:
        return None  # no such table yet: Alembic makes it
    return versions[0] if len(versions) == 1 else None
