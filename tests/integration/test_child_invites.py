"""The other parent joins a child with a one-time code; both then see it, each counts once."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from sqlalchemy import func, select, update

from bot.housekeeping import tidy
from ffs_bot.db.tables import (
    AuditEventRow,
    ChildInviteRow,
    ChildRow,
    ConsentRow,
    GuardianRow,
    IdentityRow,
    InviteAttemptRow,
    OutboxRow,
    PersonRow,
    utcnow,
)
from ffs_bot.messages import Reply, replies_from_json
from ffs_bot.services.children import (
    INVITE_ALPHABET,
    INVITE_MAX_FAILURES,
    TRIES_DAY,
    TRIES_PER_DAY,
    TRIES_PER_WINDOW,
    TRIES_WINDOW,
)
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories, weekday_text
from tests.integration.test_children import add_in_chat

CODE = re.compile(r"\n\n([2-9A-Z]{4}-[2-9A-Z]{4})\n\n")


async def invite_code(chat: Chat) -> str:
    if "cv:invite" not in chat.payloads:
        await chat.press("children")
        child = next(p for p in chat.payloads if p.startswith("child:") and p[6:].isdigit())
        await chat.press(child)
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
    assert "身份证号" in dad.text
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
    assert "joinnotice:yes" in dad.payloads
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


async def family_with_code(backend: Backend) -> tuple[Chat, str]:
    """Mum, with Lily, and the invite code she made for Lily's other parent."""
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard(name="Mei")
    await add_in_chat(mum, "Lily", "2021-05")
    return mum, await invite_code(mum)


async def at_join(chat: Chat) -> None:
    await chat.onboard(name="Ah Keung")
    await chat.press("children")
    await chat.press("child:join")


def wrong(code: str, n: int) -> str:
    """A well-formed code that is not `code`: another lookup, so no invite is hit."""
    letters = [c for c in INVITE_ALPHABET if c != code[0]]
    return f"{letters[n]}{letters[n + 1]}{letters[n + 2]}{letters[n + 3]}-WXYZ"


async def pushes_to(backend: Backend, user: str) -> list[Reply]:
    async with backend.db.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.recipient == user).order_by(OutboxRow.id)
        )
        return [reply for row in rows for reply in replies_from_json(row.content)]


async def age_attempts(backend: Backend, by: timedelta) -> None:
    """Make every wrong code recorded so far `by` older."""
    async with backend.db.uow() as uow:
        for attempt in await uow.session.scalars(select(InviteAttemptRow)):
            attempt.created_at -= by
        await uow.commit()


async def actions(backend: Backend) -> list[str]:
    async with backend.db.uow() as uow:
        return list(
            await uow.session.scalars(select(AuditEventRow.action).order_by(AuditEventRow.id))
        )


async def test_a_person_who_types_too_many_wrong_codes_waits_even_with_the_right_one(
    backend: Backend,
) -> None:
    _mum, code = await family_with_code(backend)
    stranger = Chat(backend.conversations, user="stranger")
    await at_join(stranger)
    for n in range(TRIES_PER_WINDOW):
        await stranger.send(wrong(code, n))
        assert "That code does not work" in stranger.text
    async with backend.db.uow() as uow:
        first = await uow.session.scalar(select(func.min(InviteAttemptRow.created_at)))
    assert first is not None

    await stranger.press("child:join")
    await stranger.send(code)  # the right code, now not even checked
    # The local day with its weekday, then the time, in CLDR's order and glue.
    local = (first + TRIES_WINDOW).astimezone(ZoneInfo("Asia/Shanghai"))
    until = f"{weekday_text(local.date())}, {format_skeleton('Hm', local.time(), locale='en')}"
    assert f"Too many wrong codes. For safety, please try again after {until}." in stranger.text
    assert "Lily" not in stranger.text
    assert "child:join" in stranger.payloads  # back at My children, not asked to type
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1

    # Once the window has passed, the right code works again.
    await age_attempts(backend, TRIES_WINDOW)
    await stranger.press("child:join")
    await stranger.send(code)
    assert "joinnotice:yes" in stranger.payloads


async def test_twenty_wrong_codes_in_a_day_stop_a_person_for_the_rest_of_it(
    backend: Backend,
) -> None:
    _mum, code = await family_with_code(backend)
    stranger = Chat(backend.conversations, user="stranger")
    await at_join(stranger)
    # Typed slowly, a few each quarter of an hour: each window alone is within its limit.
    for n in range(TRIES_PER_DAY):
        await stranger.send(wrong(code, n % 20))
        await age_attempts(backend, timedelta(minutes=30))
    assert "That code does not work" in stranger.text
    await stranger.send(code)
    assert "Too many wrong codes" in stranger.text


async def test_five_wrong_secrets_void_an_invite_and_its_maker_is_told(
    backend: Backend,
) -> None:
    mum, code = await family_with_code(backend)
    secret = code[5:]
    for n in range(INVITE_MAX_FAILURES):
        # As many accounts as they like: the invite counts every wrong secret.
        guesser = Chat(backend.conversations, user=f"guesser{n}")
        await at_join(guesser)
        other = INVITE_ALPHABET[n] * 4 if INVITE_ALPHABET[n] * 4 != secret else "ZZZY"
        await guesser.send(f"{code[:4]}-{other}")
        assert "That code does not work" in guesser.text and "Lily" not in guesser.text

    dad = Chat(backend.conversations, user="dad")
    await at_join(dad)
    await dad.send(code)
    assert "That code does not work" in dad.text  # void now, right or not
    told = await pushes_to(backend, "mum")
    assert len(told) == 1
    assert "Someone typed your invite code for Lily wrongly too many times" in told[0].text
    assert [c.payload for c in told[0].choices] == ["go:children"]
    assert (await actions(backend)).count("child.invite_void") == 1
    # A new code works.
    code = await invite_code(mum)
    await dad.send(code)
    assert "joinnotice:yes" in dad.payloads


async def test_an_old_six_letter_code_works_until_it_is_guessed_at(backend: Backend) -> None:
    _mum, _code = await family_with_code(backend)
    async with backend.db.uow() as uow:
        child_id = await uow.session.scalar(select(ChildRow.id))
        mum_id = await uow.session.scalar(select(ChildInviteRow.created_by))
        for old in ("ABCD22", "EFGH22"):
            uow.session.add(
                ChildInviteRow(
                    code=old,
                    lookup=old[:4],
                    child_id=child_id,
                    created_by=mum_id,
                    expires_at=utcnow() + timedelta(days=1),
                )
            )
        await uow.commit()
    for n in range(INVITE_MAX_FAILURES):
        guesser = Chat(backend.conversations, user=f"guesser{n}")
        await at_join(guesser)
        await guesser.send(f"ABCD{INVITE_ALPHABET[n + 1] * 2}")
    dad = Chat(backend.conversations, user="dad")
    await at_join(dad)
    await dad.send("abcd22")
    assert "That code does not work" in dad.text
    await dad.send("efgh22")
    await dad.press("joinnotice:yes")
    await dad.press("jrel:father")
    assert "You are now a guardian of Lily." in dad.text
    assert len(await pushes_to(backend, "mum")) == 2  # the void code, then dad's joining


async def test_nothing_about_the_child_shows_before_the_person_has_joined(
    backend: Backend,
) -> None:
    _mum, code = await family_with_code(backend)
    dad = Chat(backend.conversations, user="dad", language_code="zh-CN")
    seen: list[str] = []
    await dad.send(f"/start c-{code}")
    seen.append(dad.text)
    for step in (dad.press("lang:zh_Hans"), dad.send("SZ01"), dad.press("consent:yes")):
        await step
        seen.append(dad.text)
    await dad.send("阿强")
    seen.append(dad.text)
    assert "joinnotice:yes" in dad.payloads
    await dad.press("joinnotice:yes")
    seen.append(dad.text)
    assert "jrel:father" in dad.payloads
    for text in seen:
        assert "Lily" not in text, text
    await dad.press("jrel:father")
    assert "您现在是Lily的监护人了" in dad.text

    # A code typed by someone who is a guardian already, or typed wrong, names nobody either.
    again = await invite_code(_mum)
    await dad.press("children")
    await dad.press("child:join")
    await dad.send(again)
    assert "已经是" in dad.text and "Lily" not in dad.text


async def test_the_inviter_is_told_of_a_join_and_can_undo_it_once(backend: Backend) -> None:
    mum, code = await family_with_code(backend)
    dad = Chat(backend.conversations, user="dad")
    await at_join(dad)
    await dad.send(code)
    await dad.press("joinnotice:yes")
    await dad.press("jrel:father")
    assert "You are now a guardian of Lily." in dad.text

    told = await pushes_to(backend, "mum")
    assert len(told) == 1
    assert told[0].text == (
        "Ah Keung used your invite code and is now a guardian of Lily. If this is not the "
        "right person, tap Undo."
    )
    (undo,) = told[0].choices
    assert undo.label == "Undo" and undo.payload.startswith("guardian:undo:")

    # Dad may not press mum's button.
    await dad.press(undo.payload)
    assert "That button is no longer active" in dad.text

    await mum.press("go:tips")  # wherever mum is, the push's button works
    await mum.press(undo.payload)
    assert "Done. Ah Keung is no longer a guardian of Lily." in mum.text
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1
    (removed,) = await pushes_to(backend, "dad")
    assert removed.text == "Mei undid your joining. You are no longer a guardian of Lily."
    await dad.press("children")
    assert "Lily" not in dad.text
    open_consents = await scalar(
        backend,
        select(func.count())
        .select_from(ConsentRow)
        .join(PersonRow, PersonRow.id == ConsentRow.person_id)
        .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
        .where(
            IdentityRow.external_user_id == "dad",
            ConsentRow.child_id.is_not(None),
            ConsentRow.withdrawn_at.is_(None),
        ),
    )
    assert open_consents == 0

    await mum.press(undo.payload)
    assert "Nothing to undo" in mum.text
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 1
    assert [a for a in await actions(backend) if a.startswith("child.join")] == [
        "child.joined",
        "child.join_undone",
    ]


async def test_an_undo_button_of_an_earlier_join_leaves_a_later_one_alone(
    backend: Backend,
) -> None:
    mum, code = await family_with_code(backend)
    dad = Chat(backend.conversations, user="dad")
    await at_join(dad)
    for attempt in range(2):
        await dad.press("children")
        await dad.press("child:join")
        await dad.send(code)
        await dad.press("joinnotice:yes")
        await dad.press("jrel:father")
        (*_, joined) = await pushes_to(backend, "mum")
        if attempt == 0:
            first_undo = joined.choices[0].payload
            await mum.press(first_undo)
            code = await invite_code(mum)
    await mum.press(first_undo)
    assert "Nothing to undo" in mum.text
    assert await scalar(backend, select(func.count()).select_from(GuardianRow)) == 2


async def test_wrong_codes_are_forgotten_with_the_person_and_after_a_day(
    backend: Backend,
) -> None:
    _mum, code = await family_with_code(backend)
    stranger = Chat(backend.conversations, user="stranger")
    await at_join(stranger)
    await stranger.send(wrong(code, 0))
    other = Chat(backend.conversations, user="other")
    await at_join(other)
    await other.send(wrong(code, 1))
    await other.send(wrong(code, 2))
    count = select(func.count()).select_from(InviteAttemptRow)
    assert await scalar(backend, count) == 3

    await stranger.press("go:account")
    await stranger.press("account:data")
    await stranger.press("data:forget")
    await stranger.press("forget:yes")
    assert await scalar(backend, count) == 2

    async with backend.db.uow() as uow:
        await uow.session.execute(update(InviteAttemptRow).values(created_at=utcnow() - TRIES_DAY))
        await uow.commit()
    assert (await tidy(backend.db))[2] == 2
    assert await scalar(backend, count) == 0


async def test_a_guardian_who_leaves_a_child_leaves_no_code_that_still_works(
    backend: Backend,
) -> None:
    _mum, code = await family_with_code(backend)
    dad = Chat(backend.conversations, user="dad")
    await at_join(dad)
    await dad.send(code)
    await dad.press("joinnotice:yes")
    await dad.press("jrel:father")
    # Each makes a code for a third guardian, then dad leaves the child to mum.
    dads_code = await invite_code(dad)
    await dad.press("children")
    await dad.press(next(p for p in dad.payloads if p.startswith("child:") and p[6:].isdigit()))
    await dad.press("cv:remove")
    await dad.press("rm:yes")
    stranger = Chat(backend.conversations, user="stranger")
    await at_join(stranger)
    await stranger.send(dads_code)
    # His code went with him: it neither lets anyone in nor tells him who came.
    assert "That code does not work" in stranger.text
    assert await pushes_to(backend, "dad") == []
