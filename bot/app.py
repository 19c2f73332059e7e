"""The composition root: settings in, a wired application out. Nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ffs_bot.config import Settings
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.migrate import upgrade
from ffs_bot.db.uow import Database
from ffs_bot.files import private_tree
from ffs_bot.i18n import Translator, load_translators
from ffs_bot.notices import FamilyNotifier
from ffs_bot.safeguarding import load_phrases
from ffs_bot.workshop_notices import WorkshopNotifier
from handlers.engine import ConversationEngine, build_router

__all__ = ["App", "build_app"]


@dataclass
class App:
    """Everything a command needs, built once."""

    settings: Settings
    engine: AsyncEngine
    db: Database
    translators: dict[str, Translator]
    conversations: ConversationEngine
    notify: FamilyNotifier
    workshop_notify: WorkshopNotifier

    async def close(self) -> None:
        """Release database connections."""
        await self.engine.dispose()


async def build_app(settings: Settings, *, migrate: bool = True) -> App:
    """Build the database, translators and conversation engine from `settings`."""
    translators = load_translators(settings.locales_dir)
    # Read before anything opens: a bad phrase file stops the start with a clear message.
    phrases = load_phrases(settings.safeguarding_phrases)
    # The database, its journal and the exports hold children's data: ours to read alone.
    private_tree(settings.data_dir)
    engine = create_engine(settings.sqlalchemy_url, pool_size=settings.db_pool_size)
    try:
        if migrate:
            await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    db = Database(create_session_factory(engine))
    notify = FamilyNotifier(translators, timedelta(hours=settings.seat_offer_hours))
    workshop_notify = WorkshopNotifier(translators, settings.workshop_rules)
    conversations = ConversationEngine(
        db.uow,
        translators,
        build_router(),
        notify,
        workshop_notify,
        retention_days=settings.retention_days,
        phrases=phrases,
        max_messages_per_minute=settings.max_messages_per_minute,
    )
    return App(settings, engine, db, translators, conversations, notify, workshop_notify)
