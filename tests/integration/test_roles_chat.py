"""A programme admin gives staff roles in chat; nobody else can."""

from __future__ import annotations

from ffs_bot.model import RoleName
from ffs_bot.services.staff import list_roles
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_coordinator_chat import coordinator_chat
from tests.integration.test_season_admin import staff


async def test_an_admin_makes_a_coordinator_in_chat(backend: Backend) -> None:
    await seed_factories(backend.db)
    await staff(backend, "boss", RoleName.ADMIN)
    admin = Chat(backend.conversations, user="boss")
    await admin.onboard(name="Admin Li")
    await admin.press("staff")
    await admin.press("roles.account")
    await admin.send("carrier pigeon")
    assert "channel:id" in admin.text
    await admin.send("telegram:123456789")
    await admin.press("roles:coordinator")
    await admin.send("SZ01 NOPE")
    assert "does not exist" in admin.text
    await admin.send("sz01，dg01")
    assert "telegram:123456789 now has the role coordinator for DG01, SZ01" in admin.text
    async with backend.db.uow() as uow:
        grants = await list_roles(uow)
    assert sorted(
        (g.external_user_id, g.role.value, g.factory_code)
        for g in grants
        if g.channel == "telegram"
    ) == [("123456789", "coordinator", "DG01"), ("123456789", "coordinator", "SZ01")]
    coordinator = await coordinator_chat(backend)
    await coordinator.press("staff")
    assert "roles.account" not in coordinator.payloads
    await coordinator.press("roles.account")
    assert "roles:admin" not in coordinator.payloads  # sent back to the menu instead
