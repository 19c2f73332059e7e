"""A message delivered more than once has one effect and gets the same answer."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from ffs_bot.db.tables import ConsentRow, IdentityRow, PersonRow, ProcessedInboundRow
from ffs_bot.messages import Inbound
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories


async def test_the_same_message_three_times_is_handled_once(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start f-SZ01")
    await chat.press("lang:en")
    answers = [await chat.press("consent:yes", message_id="tg-42") for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert "What should we call you" in answers[0][0].text
    async with backend.db.uow() as uow:
        consents = await uow.session.scalar(select(func.count()).select_from(ConsentRow))
        processed = await uow.session.scalar(
            select(func.count())
            .select_from(ProcessedInboundRow)
            .where(ProcessedInboundRow.external_id == "tg-42")
        )
    assert (consents, processed) == (1, 1)


async def test_concurrent_redeliveries_of_a_first_message_make_one_person(
    backend: Backend,
) -> None:
    inbound = Inbound("telegram", "777", text="/start", language_hint="zh-CN", message_id="u1")
    answers = await asyncio.gather(*(backend.conversations.handle(inbound) for _ in range(5)))
    assert all(answer == answers[0] for answer in answers)
    assert "请选择语言" in answers[0][0].text
    async with backend.db.uow() as uow:
        people = await uow.session.scalar(select(func.count()).select_from(PersonRow))
        identities = await uow.session.scalar(select(func.count()).select_from(IdentityRow))
    assert (people, identities) == (1, 1)


async def test_different_first_messages_from_one_new_account_make_one_person(
    backend: Backend,
) -> None:
    messages = [Inbound("telegram", "888", text="hello", message_id=f"m{i}") for i in range(5)]
    answers = await asyncio.gather(*(backend.conversations.handle(m) for m in messages))
    assert all(answer and "wrong" not in answer[0].text for answer in answers)
    async with backend.db.uow() as uow:
        people = await uow.session.scalar(select(func.count()).select_from(PersonRow))
    assert people == 1


async def test_a_failed_step_is_not_recorded_so_a_retry_is_processed(
    backend: Backend, monkeypatch
) -> None:
    from handlers import onboarding

    async def broken(ctx, argument):
        raise RuntimeError("boom")

    monkeypatch.setattr(onboarding, "start", broken)
    inbound = Inbound("console", "u9", text="/start", message_id="retry-1")
    failed = await backend.conversations.handle(inbound)
    assert "something went wrong" in failed[0].text.lower() or "出了点问题" in failed[0].text
    monkeypatch.undo()
    answered = await backend.conversations.handle(inbound)
    assert answered[0].choices, answered
