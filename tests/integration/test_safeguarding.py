"""Safeguarding: words of danger get the helplines at once, and staff an alert without the text."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from ffs_bot.db.tables import OutboxRow, SafeguardingAlertRow, utcnow
from ffs_bot.messages import replies_from_json
from ffs_bot.model import RoleName
from ffs_bot.safeguarding import Concern
from ffs_bot.services.safeguarding import recent_alerts
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_season_admin import staff


async def alerts_to(backend: Backend) -> dict[str, list[str]]:
    """Each staff account's safeguarding pushes: their texts, and whether they may go out."""
    async with backend.db.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.idempotency_key.startswith("safeguarding:"))
            .order_by(OutboxRow.id)
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            text = replies_from_json(row.content)[0].text
            found.setdefault(row.recipient, []).append(f"{row.status}: {text}")
        return found


async def alert_rows(backend: Backend) -> list[tuple[str, int]]:
    async with backend.db.uow() as uow:
        rows = await uow.session.execute(
            select(SafeguardingAlertRow.kind, SafeguardingAlertRow.alerted).order_by(
                SafeguardingAlertRow.id
            )
        )
        return [(kind, alerted) for kind, alerted in rows]


async def programme(backend: Backend) -> Chat:
    """SZ01's coordinator (Chinese), DG01's coordinator, an admin (English), and a worker."""
    await seed_factories(backend.db)
    for user, role, codes, language in (
        ("coord-sz", RoleName.COORDINATOR, ["SZ01"], "zh_Hans"),
        ("coord-dg", RoleName.COORDINATOR, ["DG01"], "zh_Hans"),
        ("admin", RoleName.ADMIN, [], "en"),
    ):
        await staff(backend, user, role, *codes)
        await Chat(backend.conversations, user=user).onboard(language=language, name=user)
    worker = Chat(backend.conversations, user="worker")
    await worker.onboard(language="zh_Hans", factory="SZ01", name="王小红")
    return worker


async def test_a_cry_for_help_gets_the_helplines_and_alerts_the_right_staff(
    backend: Backend,
) -> None:
    worker = await programme(backend)
    message = "我 真的 不想活了 13812345678"
    replies = await worker.send(message)
    helpline = replies[0].text
    assert "12356" in helpline and "12355" in helpline and "110" in helpline
    assert "工作人员" in helpline  # staff were told, and the worker is told so
    # After the helplines, nothing else: no menu, no "didn't understand".
    assert len(replies) == 1

    alerts = await alerts_to(backend)
    assert set(alerts) == {"coord-sz", "admin"}  # not DG01's coordinator
    (to_coordinator,) = alerts["coord-sz"]
    assert to_coordinator.startswith("pending: 安全提醒：王小红")
    assert "深圳龙岗欢乐玩具厂" in to_coordinator and "危机" in to_coordinator
    (to_admin,) = alerts["admin"]
    assert "Safeguarding alert: 王小红" in to_admin and "Longgang Happy Toys" in to_admin
    assert "in crisis" in to_admin and "110" in to_admin
    for text in (to_coordinator, to_admin):
        assert "不想活" not in text and "13812345678" not in text
    assert await alert_rows(backend) == [("crisis", 2)]


async def test_staff_are_alerted_once_an_hour_per_kind_and_the_worker_every_time(
    backend: Backend,
) -> None:
    worker = await programme(backend)
    await worker.send("我想死")
    replies = await worker.send("I want to kill myself")
    assert "110" in replies[0].text  # the helplines again, in the person's language
    assert len(await alerts_to(backend)) == 2
    assert await alert_rows(backend) == [("crisis", 2), ("crisis", 0)]

    # A child in danger is different news.
    await worker.send("他 打孩子")
    assert [len(texts) for texts in (await alerts_to(backend)).values()] == [2, 2]
    assert "a child is in danger" in (await alerts_to(backend))["admin"][-1]

    # An hour after the first crisis alert, a new one goes out.
    async with backend.db.uow() as uow:
        await uow.session.execute(
            update(SafeguardingAlertRow).values(at=utcnow() - timedelta(minutes=61))
        )
        await uow.commit()
    await worker.send("活不下去了")
    assert [len(texts) for texts in (await alerts_to(backend)).values()] == [3, 3]
    async with backend.db.uow() as uow:
        recent = await recent_alerts(uow, since=utcnow() - timedelta(minutes=5))
    assert [(alert.kind, alert.alerted) for alert in recent] == [(Concern.CRISIS, 2)]
    assert recent[0].factory_id is not None


async def test_before_sign_up_and_without_staff_the_worker_still_gets_the_helplines(
    backend: Backend,
) -> None:
    stranger = Chat(backend.conversations, user="new", language_code="en")
    await stranger.send("/start")
    replies = await stranger.send("I am suicidal")
    assert "12356" in replies[0].text
    assert "programme staff know" not in replies[0].text  # nobody to tell: no promise
    assert await alert_rows(backend) == [("crisis", 0)]
    # The helplines alone; sign-up goes on at the next message.
    assert len(replies) == 1
    await stranger.press("lang:en")
    assert "Which factory" in stranger.text


async def test_everyday_words_and_buttons_raise_nothing(backend: Backend) -> None:
    worker = await programme(backend)
    for text in ("想死你了宝贝", "孩子被打扰了", "菜单", "abusers", "self"):
        replies = await worker.send(text)
        assert not any("12356" in reply.text for reply in replies), text
    await worker.press("想死")  # a payload is not something the person typed
    assert await alert_rows(backend) == []


async def test_staff_writing_a_broadcast_about_lost_children_raise_no_alert(
    backend: Backend,
) -> None:
    await programme(backend)
    coordinator = Chat(backend.conversations, user="coord-sz")
    await coordinator.press("staff")
    await coordinator.press("bc")
    replies = await coordinator.send("请看好孩子，防止走失")
    assert not any("12356" in reply.text for reply in replies)
    assert await alert_rows(backend) == []


async def test_no_alert_goes_to_an_admin_who_never_wrote_to_the_bot(backend: Backend) -> None:
    await seed_factories(backend.db)
    await staff(backend, "never-wrote", RoleName.ADMIN)
    worker = Chat(backend.conversations, user="worker")
    await worker.onboard(factory="SZ01")
    replies = await worker.send("My husband beats my child")
    assert "12355" in replies[0].text and "programme staff know" not in replies[0].text
    assert await alerts_to(backend) == {}
    assert await alert_rows(backend) == [("child", 0)]


async def test_after_the_helplines_the_question_waits_for_the_next_message(
    backend: Backend,
) -> None:
    worker = await programme(backend)
    for payload in ("children", "child:add", "childnotice:yes"):
        await worker.press(payload)
    await worker.send("小明")
    asked = worker.text
    assert "出生" in asked
    replies = await worker.send("我不想活了")
    # The helplines alone: the birth question is not carried on in the same answer.
    assert len(replies) == 1 and "12356" in replies[0].text and "出生" not in worker.text
    # The question waits: the next message is its answer.
    await worker.send("2019-05")
    assert "小明" in worker.text and worker.payloads[0].startswith("gender:")
    # A message stopped after the helplines and sent again as it was is taken as an answer
    # (a note that names a danger), with the helplines again.
    for payload in ("gender:none", "rel:mother", "cv:health", "health:yes"):
        await worker.press(payload)
    note = "他小时候走失过，怕人多"
    await worker.send(note)
    assert len(worker.last) == 1 and "12355" in worker.text
    await worker.send(note)
    assert "12355" in worker.text and "已保存" in worker.text
