"""The other parent joins a child with a one-time code; both then see it, each counts once."""

from __future__ import annotations

import re

from sqlalchemy import func, select, update

from ffs_bot.db.tables import ChildInviteRow, ChildRow, ConsentRow, GuardianRow, utcnow
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_children import add_in_chat

CODE = re.compile(r"\n\n([2-9A-Z]{6})\n\n")


async def invite_code(chat: Chat) -> str:
    await chat.press("cv:invite")
    found = CODE.search(chat.text)
    assert found, chat.text
    return found.group(1)


async def scalar(backend: Backend, query):
    async with backend.db.uow() as uow:
        return await uow.session.scalar(query)


async def test_the_other_parent_joins_with_the_code_and_both_see_the_child(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2021-05")
    code = await invite_code(mum)

    dad = Chat(backend.conversations, user="dad", language_code="zh-CN")
    await dad.onboard(language="zh_Hans", name="阿强")
    await dad.press("children")
    await dad.press("child:join")
    await dad.send(f" {code.lower()[:3]} {code.lower()[3:]} ")  # as typed on a phone
    assert "您将成为Lily的监护人" in dad.text and "身份证号" in dad.text
    await dad.press("joinnotice:yes")
    await dad.press("jrel:father")
    assert "您现在是Lily的监护人了" in dad.text

    assert await scalar(backend, select(func.count()).select_from(ChildRow)) == 1
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 2
    consents = await scalar(
        backend,
        select(func.count()).select_from(ConsentRow).where(ConsentRow.kind == "child_data"),
    )
    assert consents == 2  # each guardian gave their own

    # The code worked once.
    stranger = Chat(backend.conversations, user="stranger")
    await stranger.onboard()
    await stranger.press("children")
    await stranger.press("child:join")
    await stranger.send(code)
    assert "That code does not work" in stranger.text

    # Removing by one guardian keeps the child for the other.
    await dad.press("children")
    child_button = next(p for p in dad.payloads if p.startswith("child:") and p[6:].isdigit())
    await dad.press(child_button)
    await dad.press("cv:remove")
    assert "另一位监护人那里还会保留Lily的信息" in dad.text
    await dad.press("rm:yes")
    await mum.press("children")
    assert "Lily" in mum.text
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1


async def test_an_expired_code_and_a_guardians_own_code_are_refused(backend: Backend) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2021-05")
    code = await invite_code(mum)
    await mum.press("children")
    await mum.press("child:join")
    await mum.send(code)
    assert "already a guardian" in mum.text

    async with backend.db.uow() as uow:
        await uow.session.execute(update(ChildInviteRow).values(expires_at=utcnow()))
        await uow.commit()
    dad = Chat(backend.conversations, user="dad")
    await dad.onboard()
    await dad.press("children")
    await dad.press("child:join")
    await dad.send(code)
    assert "more than 7 days old" in dad.text
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1


async def test_an_invite_link_works_through_sign_up(backend: Backend) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2021-05")
    code = await invite_code(mum)

    dad = Chat(backend.conversations, user="dad", language_code="en")
    await dad.send(f"/start c-{code}")
    await dad.press("lang:en")
    await dad.send("SZ01")
    await dad.press("consent:yes")
    await dad.send("Ah Keung")
    assert "Welcome, Ah Keung!" in dad.text
    assert "You are joining as a guardian of Lily." in dad.text
    await dad.press("joinnotice:yes")
    await dad.press("jrel:grandparent")
    assert "You are now a guardian of Lily." in dad.text
    assert "You are: Grandparent" in dad.text


async def test_declining_the_notice_when_joining_saves_nothing(backend: Backend) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2021-05")
    code = await invite_code(mum)
    dad = Chat(backend.conversations, user="dad")
    await dad.onboard()
    await dad.send(f"/start c-{code}")
    await dad.press("joinnotice:no")
    assert "Nothing about your child was saved" in dad.text
    await dad.press("jrel:father")  # a stale button from nowhere
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1
