"""Privacy in chat: a changed notice asked again first, my data, forget me, retention purge."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import ffs_bot.privacy
import ffs_bot.services.people
import handlers.privacy
from bot.housekeeping import purge, tidy_forever
from ffs_bot.db.tables import (
    AttendanceRow,
    AuditEventRow,
    BookingRow,
    ChildRow,
    ConsentRow,
    FeedbackRow,
    GuardianRow,
    IdentityRow,
    OutboxRow,
    PersonRow,
    RegistrationRow,
    SeasonRow,
    WorkshopRow,
)
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.reports import programme_report
from ffs_bot.services.factories import get_factory_by_code
from handlers.text import clean_text, match_choice
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_children import add_in_chat

NEW_VERSION = "2099-01"
TODAY = datetime.now(UTC).date()


def bump_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish a new notice version, as a release that changes the notice's text would."""
    for module in (ffs_bot.privacy, ffs_bot.services.people, handlers.privacy):
        monkeypatch.setattr(module, "PRIVACY_NOTICE_VERSION", NEW_VERSION)


async def scalar(backend: Backend, query):
    async with backend.db.uow() as uow:
        return await uow.session.scalar(query)


async def person_id(backend: Backend, user: str) -> int:
    found = await scalar(
        backend, select(IdentityRow.person_id).where(IdentityRow.external_user_id == user)
    )
    assert found is not None
    return int(found)


async def test_a_new_notice_is_asked_before_anything_else(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("children")
    bump_notice(monkeypatch)

    # A button from before: the notice comes first.
    await chat.press("child:add")
    assert "Our privacy notice has changed" in chat.text, chat.text
    assert f"version {NEW_VERSION}" in chat.text and "90 days" in chat.text
    assert "mainland China" in chat.text
    assert chat.payloads == ["renew:yes", "renew:no", "renew:lang:zh_Hans"]
    # A word or a command then: nothing else opens, and one line says how to answer (the
    # notice is just above, not sent again).
    for word in ("menu", "hello", "2021-02-30"):
        await chat.send(word)
        assert chat.text == "Please answer the question above first: tap one of the buttons."
        assert chat.payloads == ["renew:yes", "renew:no", "renew:lang:zh_Hans"]
    await chat.press("renew:lang:zh_Hans")
    assert "隐私说明更新了" in chat.text and "服务器在中国大陆" in chat.text

    await chat.press("renew:no")
    assert "我们暂时不能继续为您服务" in chat.text
    assert chat.payloads == ["renew:yes", "data:forget"]
    await chat.press("account")
    assert "隐私说明更新了" in chat.text  # still asked, and nothing else opens

    await chat.press("renew:yes")
    assert "谢谢" in chat.text and "account" in chat.payloads
    await chat.press("account")
    assert "我的资料" in chat.text
    async with backend.db.uow() as uow:
        answers = (
            await uow.session.execute(
                select(ConsentRow.notice_version, ConsentRow.granted).order_by(ConsentRow.id)
            )
        ).all()
    assert answers == [("2026-12", True), (NEW_VERSION, False), (NEW_VERSION, True)]


async def test_staff_and_people_signing_up_meet_the_new_notice_too(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_factories(backend.db)
    halfway = Chat(backend.conversations, user="halfway")
    await halfway.send("/start")
    await halfway.press("lang:en")
    await halfway.send("SZ01")
    assert "version 2026-12" in halfway.text
    await halfway.press("consent:yes")
    assert "What should we call you?" in halfway.text
    bump_notice(monkeypatch)
    await halfway.send("Ah Fang")
    assert "Our privacy notice has changed" in halfway.text
    await halfway.press("renew:yes")
    assert "What should we call you?" in halfway.text  # sign-up goes on where it was
    await halfway.send("Ah Fang")
    assert "Welcome, Ah Fang!" in halfway.text


async def test_hostile_text_at_the_new_notice_saves_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    bump_notice(monkeypatch)
    await chat.send("hello")
    choices = [{"label": c.label, "payload": c.payload} for r in chat.last for c in r.choices]
    for text in [*naughty_strings[::5], "x" * 100_000, "\x00\x1b[31m", ""]:
        if match_choice(choices, clean_text(text)) is not None:
            continue  # "1" picks the first button: an answer, not hostile input
        await chat.send(text)
        assert chat.payloads[:2] == ["renew:yes", "renew:no"], (text, chat.text)
    await chat.press("renew:yes")
    await chat.press("renew:yes")  # pressed twice: the second is stale
    assert "no longer active" in chat.text
    count = await scalar(
        backend,
        select(func.count())
        .select_from(ConsentRow)
        .where(ConsentRow.notice_version == NEW_VERSION),
    )
    assert count == 1


async def test_my_data_shows_and_hands_over_everything_and_nothing_of_others(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    other = Chat(backend.conversations, user="other")
    await other.onboard(name="Wang Fang")
    await add_in_chat(other, "Dongdong", "2019-02")
    chat = Chat(backend.conversations, user="me")
    await chat.onboard(name="Ah Ming")
    await add_in_chat(chat, "Lily", "2021-05")
    await chat.press("cv:health")
    await chat.press("health:yes")
    await chat.send("=1+1 egg allergy")

    await chat.press("go:account")
    await chat.press("account:data")
    summary = chat.text
    for seen in (
        "Ah Ming",
        "Longgang Happy Toys",
        "English",
        "Test chat on a computer",
        "Lily, born May 2021",
        "egg allergy",
    ):
        assert seen in summary, seen
    assert "SZ01" not in summary and "console" not in summary and "2021-05" not in summary
    assert "Wang Fang" not in summary and "Dongdong" not in summary
    assert chat.payloads == ["data:file", "data:correct", "children", "data:forget", "menu"]

    await chat.press("data:file")
    files = {
        r.attachment.filename.rsplit(".", 1)[1]: r.attachment for r in chat.last if r.attachment
    }
    assert set(files) == {"json", "csv"}
    data = json.loads(files["json"].content)
    assert data["you"]["name"] == "Ah Ming" and data["you"]["factory"] == "SZ01"
    assert data["accounts"][0]["channel"] == "console" and data["accounts"][0]["account"] == "me"
    [child] = data["children"]
    assert (child["name"], child["birth_month"], child["health_notes"]) == (
        "Lily",
        "2021-05",
        "=1+1 egg allergy",
    )
    assert [c["kind"] for c in data["consents"]] == ["privacy", "child_data", "child_health"]
    text = files["csv"].content.decode("utf-8-sig")
    rows = dict(csv.reader(io.StringIO(text)))
    assert rows["You · Name"] == "Ah Ming" and rows["Child 1 · Name"] == "Lily"
    assert rows["You · Factory"] == "Longgang Happy Toys"
    assert rows["Child 1 · Health notes"] == "'=1+1 egg allergy"  # never run as a formula
    # Every value in the JSON is in the CSV.
    assert len(rows) - 1 >= sum(1 for _ in _leaves(data))
    for raw in (files["json"].content.decode(), text):
        assert "Wang Fang" not in raw and "Dongdong" not in raw and '"other"' not in raw
    assert "data:file" in chat.payloads  # the summary again, for the next step

    await chat.press("data:correct")
    assert "Your details" in chat.text
    await chat.press("account:name")
    await chat.send("Ah Ming 2")
    assert "Name: Ah Ming 2" in chat.text


async def test_my_data_in_chinese_has_no_code_or_internal_word_and_local_times(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, user="me")
    await chat.onboard(language="zh_Hans", name="阿明")
    await chat.press("children")
    await chat.press("child:add")
    await chat.press("childnotice:yes")
    await chat.send("小丽")
    await chat.send("2015-03")
    await chat.press("gender:none")
    await chat.press("rel:father")
    assert "已保存：小丽。" in chat.text
    await chat.press("go:account")
    await chat.press("account:data")
    summary = chat.text
    for seen in ("深圳龙岗欢乐玩具厂", "电脑上的测试聊天", "2015年3月出生"):
        assert seen in summary, seen
    for unseen in ("SZ01", "console", "2015-03"):
        assert unseen not in summary, unseen
    await chat.press("data:file")
    [csv_file] = [
        r.attachment for r in chat.last if r.attachment and r.attachment.filename.endswith(".csv")
    ]
    rows = dict(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert rows["项目"] == "内容"
    assert rows["您 · 工厂"] == "深圳龙岗欢乐玩具厂"
    assert rows["聊天账号 1 · 聊天软件"] == "电脑上的测试聊天"
    assert rows["同意记录 1 · 同意什么"] == "隐私说明"
    # On the factory's clock (Shanghai, UTC+8), to the minute, not ISO in UTC.
    signed_up = rows["您 · 注册时间"]
    async with backend.db.uow() as uow:
        onboarded = await uow.session.scalar(select(PersonRow.onboarded_at))
    assert onboarded is not None
    local = onboarded.replace(tzinfo=onboarded.tzinfo or UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert signed_up == f"{local:%Y-%m-%d %H:%M}"
    for label in rows:
        assert not any(key in label for key in ("you", "children", "accounts", "status")), label


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


async def _past_season(backend: Backend, *children: int, year: int = 2025) -> int:
    """A season at SZ01 that ended, each child confirmed and checked in on two days."""
    async with backend.db.uow() as uow:
        factory = await get_factory_by_code(uow, "SZ01")
        assert factory is not None
        season = SeasonRow(
            factory_id=factory.id,
            starts_on=date(year, 7, 1),
            ends_on=date(year, 8, 1),
            min_age_years=0,
            max_age_years=17,
            capacity=20,
            seats_taken=len(children),
            registration_deadline=date(year, 6, 20),
        )
        uow.session.add(season)
        await uow.session.flush()
        for child in children:
            registration = RegistrationRow(
                season_id=season.id,
                child_id=child,
                status="confirmed",
                starts_on=season.starts_on,
                ends_on=season.ends_on,
                reason="Lily's mum asked",
            )
            uow.session.add(registration)
            await uow.session.flush()
            for day in (1, 2):
                when = datetime(year, 7, day, 1, tzinfo=UTC)
                uow.session.add(
                    AttendanceRow(
                        registration_id=registration.id, day=when.date(), checked_in_at=when
                    )
                )
        await uow.commit()
        return season.id


async def _child_id(backend: Backend, name: str) -> int:
    found = await scalar(backend, select(ChildRow.id).where(ChildRow.name == name))
    assert found is not None
    return int(found)


async def _report(backend: Backend, year: int = 2025) -> dict[str, object]:
    async with backend.db.uow() as uow:
        report = await programme_report(uow, year=year, now=datetime(year, 12, 1, tzinfo=UTC))
    return report.to_json()


async def test_forget_me_erases_everything_keeps_a_shared_child_and_the_counts(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard(name="Mei Mum")
    await add_in_chat(mum, "Lily", "2020-01")  # shared with dad
    await add_in_chat(mum, "Ming", "2019-01")  # mum's alone
    dad = Chat(backend.conversations, user="dad")
    await dad.onboard(name="Dad Li")
    lily, ming = await _child_id(backend, "Lily"), await _child_id(backend, "Ming")
    mum_id, dad_id = await person_id(backend, "mum"), await person_id(backend, "dad")
    async with backend.db.uow() as uow:
        uow.session.add(GuardianRow(child_id=lily, person_id=dad_id, relationship="father"))
        factory = await get_factory_by_code(uow, "SZ01")
        assert factory is not None
        start = datetime(2025, 3, 1, 1, tzinfo=UTC)
        workshop = WorkshopRow(
            factory_id=factory.id,
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            topic="Talking with children",
            language="en",
            capacity=10,
            seats_taken=1,
            door_code="DOOR1",
        )
        uow.session.add(workshop)
        await uow.session.flush()
        booking = BookingRow(
            workshop_id=workshop.id,
            person_id=mum_id,
            status="confirmed",
            code="MUM01",
            checked_in_at=start,
        )
        uow.session.add(booking)
        await uow.session.flush()
        uow.session.add(FeedbackRow(booking_id=booking.id, rating=5, comment="Mei Mum liked it"))
        await enqueue(
            uow,
            channel="console",
            recipient="mum",
            replies=[Reply("Hello Mei Mum, Ming's place is ready")],
            idempotency_key="test:queued:mum",
        )
        await uow.commit()
    await _past_season(backend, lily, ming)
    before = await _report(backend)
    assert before["children_confirmed"] == 2 and before["parents"] == 2

    await mum.press("go:account")
    await mum.press("account:data")
    await mum.press("data:forget")
    assert "This cannot be undone" in mum.text
    await mum.press("forget:no")
    assert "what would you like to do" in mum.text
    await mum.press("go:account")
    await mum.press("account:data")
    await mum.press("data:forget")
    await mum.press("forget:yes")
    assert "we have erased everything about you" in mum.text

    assert await _report(backend) == before
    async with backend.db.uow() as uow:
        person = await uow.session.get(PersonRow, mum_id)
        assert person is not None and person.erased_at is not None
        assert (person.display_name, person.language, person.onboarded_at) == (None, None, None)
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(IdentityRow)
                .where(IdentityRow.person_id == mum_id)
            )
            == 0
        )
        erased = await uow.session.get(ChildRow, ming)
        assert erased is not None and erased.erased_at is not None
        assert (erased.name, erased.birth_month, erased.health_notes) == ("", 1, None)
        reasons = set(await uow.session.scalars(select(RegistrationRow.reason)))
        assert "Lily's mum asked" in reasons  # Lily's data stays with dad
        outbox = await uow.session.scalar(select(OutboxRow).where(OutboxRow.person_id == mum_id))
        assert outbox is not None and outbox.status == "stopped" and outbox.content == []
        comment = await uow.session.scalar(select(FeedbackRow.comment))
        assert comment == ""
        open_consents = await uow.session.scalar(
            select(func.count())
            .select_from(ConsentRow)
            .where(ConsentRow.person_id == mum_id, ConsentRow.withdrawn_at.is_(None))
        )
        assert open_consents == 0
        actions = list(await uow.session.scalars(select(AuditEventRow.action)))
        assert "person.erased" in actions
    everything = json.dumps(await _dump(backend), ensure_ascii=False)
    for gone in ("Mei Mum", "Ming"):
        assert gone not in everything, gone

    # Dad keeps Lily, now as her only guardian.
    await dad.press("go:children")
    assert "Lily" in dad.text and "Ming" not in dad.text
    child_button = next(p for p in dad.payloads if p.startswith("child:") and p[6:].isdigit())
    await dad.press(child_button)
    await dad.press("cv:remove")
    assert "All of Lily's information will be erased" in dad.text

    # Mum writing again is somebody new.
    await mum.send("hello")
    assert "Please choose your language" in mum.text
    assert await person_id(backend, "mum") != mum_id


async def _dump(backend: Backend) -> list[object]:
    """Every text column of the tables that hold people's and children's data."""
    async with backend.db.uow() as uow:
        rows: list[object] = []
        for table in (PersonRow, ChildRow, OutboxRow, FeedbackRow, RegistrationRow, IdentityRow):
            rows.extend(
                [
                    {k: str(v) for k, v in vars(row).items() if not k.startswith("_")}
                    for row in await uow.session.scalars(select(table))
                ]
            )
        return rows


async def test_withdrawing_consent_for_a_child_cancels_a_place_still_to_come(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2020-01")
    lily = await _child_id(backend, "Lily")
    await _past_season(backend, lily)
    season = await _past_season(backend, lily, year=TODAY.year + 1)
    await mum.press(f"child:{lily}")
    await mum.press("cv:remove")
    assert "Withdraw your consent for Lily?" in mum.text
    await mum.press("rm:yes")
    async with backend.db.uow() as uow:
        statuses = {
            season_id: status
            for season_id, status in await uow.session.execute(
                select(RegistrationRow.season_id, RegistrationRow.status)
            )
        }
        taken = await uow.session.scalar(
            select(SeasonRow.seats_taken).where(SeasonRow.id == season)
        )
        child = await uow.session.get(ChildRow, lily)
        consent = await uow.session.scalar(
            select(ConsentRow).where(ConsentRow.kind == "child_data")
        )
    assert statuses[season] == "cancelled" and taken == 0
    assert "confirmed" in statuses.values()  # the ended season stays as it was
    assert child is not None and child.name == "" and child.erased_at is not None
    assert consent is not None and consent.withdrawn_at is not None


async def test_purge_erases_children_past_retention_only(backend: Backend) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    for name in ("Old", "Again", "Recent"):
        await add_in_chat(mum, name, "2019-01")
    old, again, recent = [await _child_id(backend, n) for n in ("Old", "Again", "Recent")]
    await _past_season(backend, old, again)  # ended 2025-08-01
    later = await _past_season(backend, again, year=2026)  # ends 2026-08-01
    today = date(2025, 8, 1) + timedelta(days=91)  # 91 days after the first one ended
    before = await _report(backend)

    dry = await purge(backend.db, backend.notify, 90, dry_run=True, today=today)
    assert (dry.children, dry.registrations, dry.cutoff) == (1, 1, date(2025, 8, 2))
    assert await scalar(backend, select(func.count()).where(ChildRow.erased_at.is_not(None))) == 0
    assert (
        await scalar(backend, select(func.count()).where(AuditEventRow.action == "privacy.purge"))
        == 0
    )

    # Exactly 90 days after: not yet.
    assert (await purge(backend.db, backend.notify, 91, today=today)).children == 0
    done = await purge(backend.db, backend.notify, 90, today=today)
    assert done.children == 1
    async with backend.db.uow() as uow:
        names = {i: n for i, n in await uow.session.execute(select(ChildRow.id, ChildRow.name))}
        event = await uow.session.scalar(
            select(AuditEventRow)
            .where(AuditEventRow.action == "privacy.purge")
            .order_by(AuditEventRow.id.desc())
        )
        assert later  # registered again: kept
    assert names[old] == "" and names[again] == "Again" and names[recent] == "Recent"
    assert event is not None and event.details["children"] == 1
    assert event.details["retention_days"] == 90
    assert await _report(backend) == before
    await mum.press("go:children")
    assert "Old" not in mum.text and "Again" in mum.text
    # Nothing left to do on a second run.
    assert (await purge(backend.db, backend.notify, 90, today=today)).children == 0


async def test_the_daily_housekeeping_purges(backend: Backend) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, user="mum")
    await mum.onboard()
    await add_in_chat(mum, "Old", "2019-01")
    await _past_season(backend, await _child_id(backend, "Old"), year=2020)
    stop = asyncio.Event()
    task = asyncio.create_task(tidy_forever(backend.db, stop, backend.notify, 90))
    await asyncio.sleep(0)  # the first round has started; it runs to its end
    stop.set()
    await task
    assert (
        await scalar(backend, select(func.count()).where(AuditEventRow.action == "privacy.purge"))
        == 1
    )
    assert await scalar(backend, select(ChildRow.name)) == ""
