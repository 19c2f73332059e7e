"""Nobody can make the bot write to a chat that did not write to it first."""

from __future__ import annotations

from sqlalchemy import func, select

from ffs_bot.db.tables import IdentityRow, OutboxRow, PersonRow
from ffs_bot.messages import Reply
from ffs_bot.model import RoleName
from ffs_bot.notices import tell_people
from ffs_bot.outbox import enqueue
from ffs_bot.services import broadcasts
from ffs_bot.services.broadcasts import Audience, AudienceKind
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_season_admin import staff

STRANGER = "987654321"


async def rows_for(backend: Backend, recipient: str) -> list[str]:
    async with backend.db.uow() as uow:
        return list(
            await uow.session.scalars(
                select(OutboxRow.status).where(OutboxRow.recipient == recipient)
            )
        )


async def test_the_outbox_refuses_an_account_that_never_wrote(backend: Backend) -> None:
    async with backend.db.uow() as uow:
        added = await enqueue(
            uow,
            channel="telegram",
            recipient=STRANGER,
            replies=[Reply("hello")],
            idempotency_key="x:1",
        )
        await uow.commit()
    assert not added
    assert await rows_for(backend, STRANGER) == []


async def test_a_role_given_to_an_unknown_account_sends_it_nothing(backend: Backend) -> None:
    await seed_factories(backend.db)
    await staff(backend, "boss", RoleName.ADMIN)
    admin = Chat(backend.conversations, user="boss")
    await admin.onboard(name="Admin Li")
    await admin.press("staff")
    await admin.press("roles.account")
    await admin.send(f"telegram:{STRANGER}")
    await admin.press("roles:admin")
    assert f"telegram:{STRANGER} now has the role admin" in admin.text
    async with backend.db.uow() as uow:
        person_id, status = (
            await uow.session.execute(
                select(PersonRow.id, PersonRow.status)
                .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
                .where(IdentityRow.external_user_id == STRANGER)
            )
        ).one()
        assert status == "silent"
        # Whatever is told to them is kept but never sent,
        await tell_people(uow, backend.conversations._translators, [person_id], "t", _hello)
        # and a broadcast to everyone does not reach them.
        made = await broadcasts.create_broadcast(
            uow,
            await _person(uow, "boss"),
            text_zh="大家好",
            text_en="Hello all",
            audience=Audience(AudienceKind.EVERYONE),
        )
        await uow.commit()
    assert made.recipients == 1  # the admin themself, who wrote to us
    assert await rows_for(backend, STRANGER) == ["stopped"]

    # Once they write, they are an ordinary account that may get pushes.
    stranger = Chat(backend.conversations, user=STRANGER, channel="telegram")
    await stranger.send("/start")
    async with backend.db.uow() as uow:
        await tell_people(uow, backend.conversations._translators, [person_id], "u", _hello)
        await uow.commit()
        pending = await uow.session.scalar(
            select(func.count()).where(
                OutboxRow.recipient == STRANGER, OutboxRow.status == "pending"
            )
        )
    assert pending == 1


def _hello(t) -> Reply:
    return Reply("hello")


async def _person(uow, user: str) -> int:
    found = await uow.session.scalar(
        select(IdentityRow.person_id).where(IdentityRow.external_user_id == user)
    )
    assert found is not None
    return int(found)


def test_a_console_line_cannot_name_another_account() -> None:
    from bot.console import inbound_from_json

    line = '{"text": "hi", "user_id": "42", "chat_id": 42, "channel": "telegram"}'
    inbound = inbound_from_json(line, "me", None)
    assert (inbound.channel, inbound.user_id) == ("console", "me")
